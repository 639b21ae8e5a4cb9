import path from 'node:path';
import { isMap, isSeq, type Node } from 'yaml';
import type { BindSpec } from '../core/index.js';
import { ConfigCode } from './codes.js';
import { typeError, type ValueSite } from './read-values.js';
import { entries, kindOf, loc, resolve, scalarText, type YNode } from './yaml-nodes.js';

const BIND_HINT = "write '/host/path', '/host/path -> /container/path' or {source: /host/path, dest: /container/path}";

/**
 * Reads `binds` (stacker's three forms): `/p` (source = dest), `/a -> /b`, and
 * `{source, dest}` (dest defaults to source). Relative sources *and* dests are made absolute
 * against the file's folder, as stacker does.
 */
export function parseBinds(site: ValueSite, node: YNode, referenceDir: string): BindSpec[] {
  const { ctx } = site;
  if (kindOf(node) === 'null') return [];
  if (isMap(node)) {
    typeError(site, 'a list', node, undefined, BIND_HINT);
    return [];
  }
  const abs = (p: string): string => (path.isAbsolute(p) ? p : path.join(referenceDir, p));
  const items: Node[] = isSeq(node) ? (node.items as Node[]) : [node as Node];
  const out: BindSpec[] = [];
  for (const raw of items) {
    const item = resolve(ctx, raw) ?? raw;
    const location = loc(ctx, item, site.at);
    const bad = (message: string): void => ctx.diag.error(ConfigCode.Bind, message, { location, hint: BIND_HINT });
    if (isMap(item)) {
      let source: string | undefined;
      let dest: string | undefined;
      for (const e of entries(ctx, item, `bind of layer '${site.layer}'`)) {
        if (e.name === 'source' || e.name === 'dest') {
          if (kindOf(e.value) === 'null') continue;
          const text = scalarText(e.value);
          if (text === undefined) {
            typeError({ ...site, what: `binds.${e.name}`, at: e.keyLoc }, 'a string', e.value);
          } else if (e.name === 'source') source = text;
          else dest = text;
        } else {
          ctx.diag.warn(`unknown key '${e.name ?? String(e.key)}' in bind of layer '${site.layer}' is ignored (valid keys: source, dest)`, e.keyLoc);
        }
      }
      if (!source) bad("invalid Bind: 'source' is required");
      else out.push({ source: abs(source), dest: abs(dest || source), location });
      continue;
    }
    const text = scalarText(item);
    if (text === undefined) {
      bad(`invalid Bind: expected a path, 'source -> dest' or a mapping, found ${kindOf(item)}`);
      continue;
    }
    const fields = text.trim().split(/\s+/).filter(Boolean);
    if (fields.length === 1) {
      const p = fields[0] as string;
      out.push({ source: abs(p), dest: abs(p), location });
    } else if (fields.length === 3 && fields[1] === '->') {
      out.push({ source: abs(fields[0] as string), dest: abs(fields[2] as string), location });
    } else {
      bad(`invalid Bind: ${text}`);
    }
  }
  return out;
}
