import { isAlias, isMap, isNode, isSeq, parseDocument, visit, type Node } from 'yaml';
import type { LayerSpec, SourceLocation } from '../core/index.js';
import { ConfigCode } from './codes.js';
import type { Diagnostics } from './diagnostics.js';
import { isLayerDirective } from './directives.js';
import { parseLayer } from './parse-layer.js';
import type { SourceText } from './source-text.js';
import { entries, kindOf, loc, resolve, scalarText, type ParseContext, type YNode } from './yaml-nodes.js';

export interface ParseFileOptions {
  /** Absolute path or URL of the file. */
  file: string;
  referenceDir: string;
  requireHash: boolean;
  defaultOs: string;
  defaultArch: string;
}

export interface ParsedFile {
  /** Valid layers, in file order. */
  layers: LayerSpec[];
  /** Every layer key in file order (valid definition or not), for duplicate detection. */
  names: { name: string; location: SourceLocation }[];
  /** `config.prerequisites` as written. */
  prerequisites: { raw: string; location: SourceLocation }[];
  /**
   * The document has no anchors and no aliases: each top-level entry means the same alone, so a
   * later version of the file may be parsed entry by entry (`parseChangedFile`).
   */
  plain: boolean;
}

/**
 * YAML 1.1, as yaml.v2: `0755` is octal, `yes`/`on` are booleans. Duplicate keys are not a parse
 * error: they are reported as duplicate layers or duplicate keys, with both locations.
 */
export const YAML_OPTIONS = { version: '1.1', uniqueKeys: false, prettyErrors: false } as const;

/** An anchor or an alias: what makes one part of a document depend on another. */
export function tiesParts(node: unknown): boolean {
  return isAlias(node) || (isNode(node) && node.anchor !== undefined);
}

/** Parses one stacker file's substituted text. Pure: touches no disk. */
export function parseStackerFile(src: SourceText, opts: ParseFileOptions, diag: Diagnostics): ParsedFile {
  const out: ParsedFile = { layers: [], names: [], prerequisites: [], plain: true };
  const firstError = diag.errors.length;
  const doc = parseDocument(src.text, YAML_OPTIONS);
  for (const e of doc.errors) {
    const message = e.code === 'MULTIPLE_DOCS' ? 'a stacker file holds a single YAML document' : e.message.split('\n')[0];
    diag.error(ConfigCode.YamlSyntax, `invalid YAML: ${message}`, { location: src.location(e.pos[0], e.pos[1]) });
  }
  // The parser accepts aliases to anchors that do not exist; report each once, here.
  visit(doc, (_, node) => {
    if (tiesParts(node)) out.plain = false;
    if (!isAlias(node) || node.resolve(doc) !== undefined) return;
    const r = node.range;
    diag.error(ConfigCode.YamlSyntax, `invalid YAML: unknown alias *${node.source}`, {
      ...(r ? { location: src.location(r[0], r[1]) } : {}),
      hint: 'an alias *name refers to an anchor &name defined earlier in the file',
    });
  });
  if (diag.errors.length > firstError) return out;
  const ctx: ParseContext = { doc, src, diag };
  for (const w of doc.warnings) diag.warn(`YAML: ${w.message.split('\n')[0]}`, src.location(w.pos[0], w.pos[1]));
  const root = resolve(ctx, doc.contents);
  if (kindOf(root) === 'null') return out;
  if (!isMap(root)) {
    diag.error(ConfigCode.NotMapping, `a stacker file must be a mapping of layer names to layer definitions, found ${kindOf(root)}`, {
      location: loc(ctx, root),
      hint: 'e.g. myimage: {from: {type: docker, url: docker://alpine:3.19}, run: echo hi}',
    });
    return out;
  }
  parseRoot(ctx, root, opts, out);
  // Report this file's problems in source order, whatever order the checks ran in.
  const mine = diag.errors.splice(firstError).map((e, i) => ({ e, i }));
  const key = (l: SourceLocation | undefined): number[] => (l ? [l.line, l.col] : [Infinity, Infinity]);
  mine.sort((x, y) => {
    const [a1, a2] = key(x.e.location);
    const [b1, b2] = key(y.e.location);
    return (a1 as number) - (b1 as number) || (a2 as number) - (b2 as number) || x.i - y.i;
  });
  diag.errors.push(...mine.map((m) => m.e));
  return out;
}

export function parseRoot(ctx: ParseContext, root: Node, opts: ParseFileOptions, out: ParsedFile): void {
  const { diag } = ctx;
  let configAt: SourceLocation | undefined;
  for (const e of entries(ctx, root)) {
    if (kindOf(e.key) !== 'a string' || e.name === undefined) {
      const shown = e.name ?? (e.key ? String(e.key) : 'null');
      diag.error(ConfigCode.LayerName, `layer name ${shown} is not a string`, {
        location: e.keyLoc,
        hint: `quote it: "${shown}":`,
      });
      continue;
    }
    const name = e.name;
    if (name === 'config') {
      if (configAt) {
        diag.error(ConfigCode.DuplicateKey, "duplicate key 'config' in the stacker file", {
          location: e.keyLoc,
          hint: `first given at line ${configAt.line}`,
        });
        continue;
      }
      configAt = e.keyLoc;
      parseConfig(ctx, e.value, e.keyLoc, out);
      continue;
    }
    if (!checkName(ctx, name, e.keyLoc)) continue;
    out.names.push({ name, location: e.keyLoc });
    const layer = parseLayer(ctx, { ...opts, name, keyLoc: e.keyLoc, value: e.value });
    if (layer) out.layers.push(layer);
  }
}

function checkName(ctx: ParseContext, name: string, at: SourceLocation): boolean {
  const bad = (message: string, hint: string): false => {
    ctx.diag.error(ConfigCode.LayerName, message, { location: at, hint });
    return false;
  };
  if (name === '') return bad('layer name cannot be empty', 'layer names become image tags');
  if (name.includes(':')) {
    return bad(`using ':' in the layer name (${name}) is forbidden due to overlay constraints`, "rename the layer without ':'");
  }
  if (name.includes('/') || name === '.' || name === '..') {
    return bad(`layer name '${name}' cannot contain '/' or be '.' or '..'`, 'layer names become image tags and directory names');
  }
  return true;
}

const CONFIG_MESSAGE =
  "cannot interpret 'config' value, note the 'config' section in the stackerfile cannot contain a layer definition";

/** The reserved `config:` section: only `prerequisites` (a list of paths or URLs) is read. */
function parseConfig(ctx: ParseContext, node: YNode, keyLoc: SourceLocation, out: ParsedFile): void {
  if (kindOf(node) === 'null') return;
  if (!isMap(node)) {
    ctx.diag.error(ConfigCode.Config, CONFIG_MESSAGE, {
      location: loc(ctx, node, keyLoc),
      hint: "'config' is a mapping, e.g. config: {prerequisites: [../base/stacker.yaml]}",
    });
    return;
  }
  for (const e of entries(ctx, node, "'config'")) {
    if (e.name === 'prerequisites') {
      if (kindOf(e.value) === 'null') continue;
      if (!isSeq(e.value)) {
        ctx.diag.error(ConfigCode.Config, `'prerequisites' in 'config' must be a list of paths, found ${kindOf(e.value)}`, {
          location: loc(ctx, e.value, e.keyLoc),
          hint: 'e.g. prerequisites: [../base/stacker.yaml]',
        });
        continue;
      }
      for (const raw of e.value.items as Node[]) {
        const item = resolve(ctx, raw);
        const text = scalarText(item);
        if (text === undefined || text === '') {
          ctx.diag.error(ConfigCode.Config, `each prerequisite must be a path, found ${kindOf(item)}`, {
            location: loc(ctx, item ?? raw, e.keyLoc),
          });
        } else {
          out.prerequisites.push({ raw: text, location: loc(ctx, item, e.keyLoc) });
        }
      }
    } else if (e.name !== undefined && isLayerDirective(e.name)) {
      ctx.diag.error(ConfigCode.Config, CONFIG_MESSAGE, {
        location: e.keyLoc,
        hint: `'${e.name}' is a layer directive; 'config' is reserved and cannot be a layer name`,
      });
    } else {
      ctx.diag.warn(`unknown key '${e.name ?? String(e.key)}' in 'config' is ignored (valid keys: prerequisites)`, e.keyLoc);
    }
  }
}
