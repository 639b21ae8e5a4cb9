/**
 * An exact text form of a loaded `BuildSpec` (and anything else made of the same parts), for the
 * spec cache: JSON plus two markers, so that decoding gives a value `deepStrictEqual` to the one
 * encoded. Maps keep their entries and order; properties and array items that are `undefined`
 * stay present. Anything JSON cannot carry exactly (class instances, null-prototype objects,
 * functions, symbols, bigints, NaN, ±Infinity, -0, a key equal to a marker) makes `encodeExact`
 * throw `UnencodableError`: such a value is simply not cached, never cached approximately.
 */

const MAP = '\u0000map';
const UNDEFINED = '\u0000undefined';
/** What an encoded `undefined` decodes to until its parent puts `undefined` back in its place. */
const HOLE: unique symbol = Symbol('undefined');

export class UnencodableError extends Error {
  constructor(what: string, path: string) {
    super(`cannot encode ${what} at ${path || '(root)'} exactly`);
    this.name = 'UnencodableError';
  }
}

/** Encodes `value` so that `decodeExact` gives it back; throws `UnencodableError` otherwise. */
export function encodeExact(value: unknown): string {
  return JSON.stringify(plain(value, ''));
}

/** The JSON-ready form of `value`: Maps and undefined replaced by marker objects. */
function plain(v: unknown, path: string): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      if (!Number.isFinite(v) || Object.is(v, -0)) throw new UnencodableError(String(v), path);
      return v;
    case 'undefined':
      return { [UNDEFINED]: 0 };
    case 'object': {
      if (v === null) return null;
      if (Array.isArray(v)) return v.map((item, i) => plain(item, `${path}[${i}]`));
      if (v instanceof Map) return { [MAP]: [...v].map(([k, x], i) => [plain(k, `${path}<key ${i}>`), plain(x, `${path}<${String(k)}>`)]) };
      if (Object.getPrototypeOf(v) !== Object.prototype) throw new UnencodableError('a non-plain object', path);
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === MAP || k === UNDEFINED) throw new UnencodableError(`the key ${JSON.stringify(k)}`, path);
        out[k] = plain(x, `${path}.${k}`);
      }
      if (Object.getOwnPropertySymbols(v).length > 0) throw new UnencodableError('a symbol key', path);
      return out;
    }
    default:
      throw new UnencodableError(`a ${typeof v}`, path);
  }
}

/** The inverse of `encodeExact`. */
export function decodeExact(text: string): unknown {
  const v: unknown = JSON.parse(text, revive);
  return v === HOLE ? undefined : v;
}

/** JSON.parse calls this bottom-up: children are already decoded when their parent is. */
function revive(_key: string, v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (v[i] === HOLE) v[i] = undefined;
    return v;
  }
  const o = v as Record<string, unknown>;
  if (MAP in o) return new Map(o[MAP] as [unknown, unknown][]);
  if (UNDEFINED in o) return HOLE;
  // A reviver returning undefined would delete the property: put undefined back ourselves.
  for (const k in o) if (o[k] === HOLE) o[k] = undefined;
  return o;
}
