import { sha256Digest } from '../core/digest.js';
import type { Digest } from '../core/digest.js';

/**
 * Canonical JSON: object keys sorted (by UTF-16 code units, as RFC 8785), no whitespace, arrays in
 * order, numbers and strings as `JSON.stringify` writes them (which is RFC 8785's serialization).
 * Only plain data is accepted: `undefined`, functions, symbols, bigints, non-finite numbers, array
 * holes, cycles and non-plain objects (Date, Map, class instances: their `toJSON` would make the
 * text depend on code, not data) throw a TypeError naming the path. The same value always gives
 * the same text, so `documentKey` is a function of the data alone.
 */
export function canonicalJson(value: unknown): string {
  return write(value, [], new Set());
}

/** The cache key of an input document: sha256 of its canonical JSON. */
export function documentKey(doc: unknown): Digest {
  return sha256Digest(canonicalJson(doc));
}

/** `trail`: the keys and indexes down to `v`, made into a path only for an error (a key is hashed on every plan). */
function write(v: unknown, trail: (string | number)[], stack: Set<object>): string {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`canonicalJson: non-finite number at ${pathOf(trail)}`);
      return JSON.stringify(v);
    case 'object':
      break;
    default:
      throw new TypeError(`canonicalJson: ${typeof v} at ${pathOf(trail)} is not JSON data`);
  }
  if (v === null) return 'null';
  if (stack.has(v)) throw new TypeError(`canonicalJson: cycle at ${pathOf(trail)}`);
  stack.add(v);
  let out: string;
  if (Array.isArray(v)) {
    const parts: string[] = [];
    for (let i = 0; i < v.length; i++) {
      trail.push(i);
      if (!(i in v)) throw new TypeError(`canonicalJson: hole at ${pathOf(trail)}`);
      parts.push(write(v[i], trail, stack));
      trail.pop();
    }
    out = `[${parts.join(',')}]`;
  } else {
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`canonicalJson: non-plain object at ${pathOf(trail)}`);
    }
    const rec = v as Record<string, unknown>;
    const keys = Object.keys(rec).sort();
    const parts: string[] = [];
    for (const k of keys) {
      trail.push(k);
      parts.push(`${JSON.stringify(k)}:${write(rec[k], trail, stack)}`);
      trail.pop();
    }
    out = `{${parts.join(',')}}`;
  }
  stack.delete(v);
  return out;
}

/** `$.x[0].y`, `$["a.b"]`: where in a document a value is. */
function pathOf(trail: (string | number)[]): string {
  return `$${trail.map((k) => (typeof k === 'number' ? `[${k}]` : pathKey(k))).join('')}`;
}

/** One field that differs between two documents. `before`/`after` are undefined when absent. */
export interface DocumentDifference {
  /** Dotted path from the root (`imports[1].digest`, `environment.FOO`, `labels["a.b"]`); '' for the root. */
  path: string;
  before: unknown;
  after: unknown;
}

/**
 * Field-by-field differences between two JSON documents, for `why-rebuilt`, in a stable order
 * (object keys sorted). Objects are compared key by key; arrays of equal length element by
 * element; arrays whose length changed, and values whose type changed, are reported whole at their
 * path (an index-wise diff of an insertion would blame every later element).
 */
export function diffDocuments(a: unknown, b: unknown): DocumentDifference[] {
  const out: DocumentDifference[] = [];
  diffInto(a, b, '', out);
  return out;
}

function diffInto(a: unknown, b: unknown, path: string, out: DocumentDifference[]): void {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const sub = path === '' && isIdent(k) ? k : `${path}${pathKey(k)}`;
      diffInto(a[k], b[k], sub, out);
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    for (let i = 0; i < a.length; i++) diffInto(a[i], b[i], `${path}[${i}]`, out);
    return;
  }
  if (!sameJson(a, b)) out.push({ path, before: a, after: b });
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return canonicalJson(a) === canonicalJson(b);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const IDENT_RE = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

function isIdent(k: string): boolean {
  return IDENT_RE.test(k);
}

function pathKey(k: string): string {
  return isIdent(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
}
