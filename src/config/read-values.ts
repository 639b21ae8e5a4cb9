import { isMap, isScalar, isSeq, type Node } from 'yaml';
import type { SourceLocation } from '../core/index.js';
import { ConfigCode } from './codes.js';
import { entries, kindOf, loc, resolve, scalarText, type Kind, type ParseContext, type YNode } from './yaml-nodes.js';

/**
 * Typed readers for directive values. Each reports a `STACKER_E_TYPE` error pointing at the
 * offending node and returns a neutral value, so parsing continues and finds further problems.
 *
 * `what` names the value in messages (`'run'`, `'environment'`); `at` is the directive key's
 * location, used when the value itself has no position (an empty value).
 */
export interface ValueSite {
  ctx: ParseContext;
  layer: string;
  what: string;
  at: SourceLocation;
}

/** A hint for the most common way a line turns into a mapping by accident. */
const COLON_HINT = "an unquoted ': ' (colon and space) makes YAML read a mapping; quote the whole line";

export function typeError(site: ValueSite, expected: string, node: YNode, found: Kind = kindOf(node), hint?: string): void {
  site.ctx.diag.error(ConfigCode.Type, `'${site.what}' in layer '${site.layer}' must be ${expected}, found ${found}`, {
    location: loc(site.ctx, node, site.at),
    hint: hint ?? (found === 'a mapping' && expected.includes('string') ? COLON_HINT : undefined),
  });
}

function itemError(site: ValueSite, index: number, node: YNode): void {
  const found = kindOf(node);
  site.ctx.diag.error(
    ConfigCode.Type,
    `item ${index + 1} of '${site.what}' in layer '${site.layer}' must be a string, found ${found}`,
    { location: loc(site.ctx, node, site.at), hint: found === 'a mapping' ? COLON_HINT : undefined },
  );
}

/** A string-like scalar (numbers and booleans as written); null gives undefined. */
export function readString(site: ValueSite, node: YNode): string | undefined {
  if (kindOf(node) === 'null') return undefined;
  const text = scalarText(node);
  if (text === undefined) typeError(site, 'a string', node);
  return text;
}

export function readBool(site: ValueSite, node: YNode): boolean {
  if (kindOf(node) === 'null') return false;
  if (isScalar(node) && typeof node.value === 'boolean') return node.value;
  typeError(site, 'true or false', node);
  return false;
}

/** Items of a list of strings (null items and collections are errors). */
function listItems(site: ValueSite, seq: Node): string[] {
  const out: string[] = [];
  (isSeq(seq) ? (seq.items as Node[]) : []).forEach((raw, i) => {
    const item = resolve(site.ctx, raw);
    const text = scalarText(item);
    if (text === undefined) itemError(site, i, item ?? raw);
    else out.push(text);
  });
  return out;
}

/** A list of strings; null gives []. A single string is an error (as yaml.v2 `[]string`). */
export function readStringList(site: ValueSite, node: YNode): string[] {
  if (kindOf(node) === 'null') return [];
  if (!isSeq(node)) {
    typeError(site, 'a list of strings', node);
    return [];
  }
  return listItems(site, node);
}

/** stacker's `StringList`: a string is one element, a list is kept, null is []. */
export function readStringOrList(site: ValueSite, node: YNode): string[] {
  if (kindOf(node) === 'null') return [];
  if (isSeq(node)) return listItems(site, node);
  const text = scalarText(node);
  if (text === undefined) {
    typeError(site, 'a string or a list of strings', node);
    return [];
  }
  return [text];
}

/** A `map[string]string`: scalar values as written, null values as ''. Null gives {}. */
export function readStringMap(site: ValueSite, node: YNode): Record<string, string> {
  const out: Record<string, string> = {};
  if (kindOf(node) === 'null') return out;
  if (!isMap(node)) {
    typeError(site, 'a mapping of names to strings', node);
    return out;
  }
  for (const e of entries(site.ctx, node, `'${site.what}' of layer '${site.layer}'`)) {
    if (e.name === undefined) {
      site.ctx.diag.error(ConfigCode.Type, `keys of '${site.what}' in layer '${site.layer}' must be strings, found ${kindOf(e.key)}`, {
        location: e.keyLoc,
      });
      continue;
    }
    if (kindOf(e.value) === 'null') {
      out[e.name] = '';
      continue;
    }
    const text = scalarText(e.value);
    if (text === undefined) {
      typeError({ ...site, what: `${site.what}.${e.name}` }, 'a string', e.value);
      continue;
    }
    out[e.name] = text;
  }
  return out;
}
