import { isAlias, isMap, isScalar, isSeq, type Document, type Node, type Pair, type Scalar } from 'yaml';
import type { SourceLocation } from '../core/index.js';
import { ConfigCode } from './codes.js';
import type { Diagnostics } from './diagnostics.js';
import type { SourceText } from './source-text.js';

/** What every parser of a stacker file needs: the document, its text and the diagnostics sink. */
export interface ParseContext {
  doc: Document.Parsed;
  src: SourceText;
  diag: Diagnostics;
}

export type YNode = Node | null | undefined;

/** One key/value of a mapping, with merge keys expanded and aliases resolved. */
export interface Entry {
  key: Node | null;
  /** The key as text; undefined when it is not a scalar (or is null). */
  name: string | undefined;
  value: YNode;
  /** The node to point at for "this key" (falls back to the value when the key has no position). */
  keyLoc: SourceLocation;
}

/** Follows an alias to its anchored node (unknown aliases are reported once by the file parser). */
export function resolve(ctx: ParseContext, node: YNode): YNode {
  return isAlias(node) ? node.resolve(ctx.doc) : node;
}

/** Location of a node; nodes without a usable position (empty values) fall back to `fallback`. */
export function loc(ctx: ParseContext, node: YNode, fallback?: SourceLocation): SourceLocation {
  const r = node?.range;
  if (r && (r[1] > r[0] || fallback === undefined)) return ctx.src.location(r[0], r[1]);
  return fallback ?? ctx.src.location(0, 1);
}

export type Kind = 'a mapping' | 'a list' | 'null' | 'a string' | 'an integer' | 'a number' | 'a boolean' | 'a date' | 'a value';

export function kindOf(node: YNode): Kind {
  if (node === null || node === undefined) return 'null';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'string') return 'a string';
    if (typeof v === 'number' || typeof v === 'bigint') return Number.isInteger(Number(v)) ? 'an integer' : 'a number';
    if (typeof v === 'boolean') return 'a boolean';
    if (v instanceof Date) return 'a date';
  }
  return 'a value';
}

export function isNull(node: YNode): boolean {
  return kindOf(node) === 'null';
}

/**
 * The text of a non-null scalar, as written (after YAML unquoting), whatever type YAML 1.1
 * resolved it to: like yaml.v2 decoding into a Go string, `FOO: 0755` gives "0755" and
 * `runtime_user: 1000` gives "1000". Undefined for null and collections.
 */
export function scalarText(node: YNode): string | undefined {
  if (!isScalar(node) || node.value === null || node.value === undefined) return undefined;
  const source = (node as Scalar & { source?: string }).source;
  return typeof source === 'string' ? source : String(node.value);
}

/**
 * The entries of a mapping in order. `<<` merge keys (an alias, a mapping, or a list of them) are
 * expanded; keys given explicitly win over merged ones. When `duplicates` names the mapping, a
 * key given twice explicitly is reported (`duplicate key 'k' in <duplicates>`); without it,
 * every entry is returned and the caller handles repeats.
 */
export function entries(ctx: ParseContext, map: Node, duplicates?: string): Entry[] {
  const own: Entry[] = [];
  const merged: Entry[] = [];
  collect(ctx, map, own, merged, 0);
  const out: Entry[] = [];
  const firstAt = new Map<string, Entry>();
  for (const e of own) {
    if (e.name !== undefined && duplicates !== undefined) {
      const first = firstAt.get(e.name);
      if (first) {
        ctx.diag.error(ConfigCode.DuplicateKey, `duplicate key '${e.name}' in ${duplicates}`, {
          location: e.keyLoc,
          hint: `first given at line ${first.keyLoc.line}; YAML keeps only one of them`,
        });
        continue;
      }
      firstAt.set(e.name, e);
    }
    out.push(e);
  }
  const ownNames = new Set(own.map((e) => e.name));
  const mergedSeen = new Set<string>();
  for (const e of merged) {
    if (e.name === undefined || ownNames.has(e.name) || mergedSeen.has(e.name)) continue;
    mergedSeen.add(e.name);
    out.push(e);
  }
  return out;
}

function collect(ctx: ParseContext, node: Node, own: Entry[], merged: Entry[], depth: number): void {
  if (!isMap(node)) return;
  for (const pair of node.items as Pair<Node | null, Node | null>[]) {
    const key = pair.key;
    if (isScalar(key) && typeof key.value === 'symbol') {
      const sources = resolve(ctx, pair.value);
      const list = isSeq(sources) ? (sources.items as Node[]) : [pair.value];
      for (const raw of list) {
        const m = resolve(ctx, raw);
        if (isMap(m) && depth < 16) {
          const innerOwn: Entry[] = [];
          const innerMerged: Entry[] = [];
          collect(ctx, m, innerOwn, innerMerged, depth + 1);
          merged.push(...innerOwn, ...innerMerged);
        } else {
          ctx.diag.error(ConfigCode.YamlSyntax, 'invalid YAML: a << merge key needs a mapping or a list of mappings', {
            location: loc(ctx, raw ?? key, loc(ctx, key)),
          });
        }
      }
      continue;
    }
    const value = resolve(ctx, pair.value);
    const keyNode = resolve(ctx, key);
    const keyLoc = loc(ctx, key, loc(ctx, pair.value));
    own.push({ key: keyNode ?? null, name: scalarText(keyNode), value, keyLoc });
  }
}
