import path from 'node:path';
import { isMap, isSeq, type Node } from 'yaml';
import type { LayerSpec } from '../core/index.js';
import { ConfigCode } from './codes.js';
import { typeError, type ValueSite } from './read-values.js';
import { entries, kindOf, loc, resolve, scalarText, type YNode } from './yaml-nodes.js';

/**
 * Reads `overlay_dirs`: a list of `{source, dest}`; `dest` defaults to `/`. A relative source is
 * made absolute against the file's folder; `dest` is kept as written.
 */
export function parseOverlayDirs(site: ValueSite, node: YNode, referenceDir: string): LayerSpec['overlayDirs'] {
  const { ctx } = site;
  if (kindOf(node) === 'null') return [];
  if (!isSeq(node)) {
    typeError(site, 'a list of {source, dest} mappings', node);
    return [];
  }
  const out: LayerSpec['overlayDirs'] = [];
  (node.items as Node[]).forEach((raw, i) => {
    const item = resolve(ctx, raw) ?? raw;
    const location = loc(ctx, item, site.at);
    if (!isMap(item)) {
      ctx.diag.error(ConfigCode.Type, `item ${i + 1} of 'overlay_dirs' in layer '${site.layer}' must be a mapping, found ${kindOf(item)}`, {
        location,
        hint: 'e.g. overlay_dirs: [{source: ./files, dest: /opt/files}]',
      });
      return;
    }
    let source: string | undefined;
    let dest: string | undefined;
    for (const e of entries(ctx, item, `overlay_dirs entry of layer '${site.layer}'`)) {
      if (e.name === 'source' || e.name === 'dest') {
        if (kindOf(e.value) === 'null') continue;
        const text = scalarText(e.value);
        if (text === undefined) typeError({ ...site, what: `overlay_dirs.${e.name}`, at: e.keyLoc }, 'a string', e.value);
        else if (e.name === 'source') source = text;
        else dest = text;
      } else {
        ctx.diag.warn(
          `unknown key '${e.name ?? String(e.key)}' in overlay_dirs entry of layer '${site.layer}' is ignored (valid keys: source, dest)`,
          e.keyLoc,
        );
      }
    }
    if (!source) {
      ctx.diag.error(ConfigCode.OverlayDir, `overlay_dirs entry in layer '${site.layer}' has no 'source'`, {
        location,
        hint: 'e.g. overlay_dirs: [{source: ./files, dest: /opt/files}]',
      });
      return;
    }
    out.push({ source: path.isAbsolute(source) ? source : path.join(referenceDir, source), dest: dest || '/', location });
  });
  return out;
}
