/**
 * Deterministic JSON for the documents we write (manifests, configs, indexes): object keys sorted
 * by UTF-16 code unit order at every depth, arrays kept in order, no insignificant whitespace,
 * `undefined` members dropped. This is RFC 8785 (JCS) except for number formatting, which is
 * JavaScript's own and already canonical for the integers these documents hold. The same value
 * therefore always gives the same bytes and the same digest, however the object was built.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/** UTF-8 bytes of {@link canonicalJson}. */
export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortKeys(v)));
  if (value !== null && typeof value === 'object') {
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new Error(`canonicalJson: non-finite number ${value}`);
  }
  return value;
}
