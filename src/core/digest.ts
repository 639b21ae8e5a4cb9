import { createRequire } from 'node:module';

/**
 * node:crypto, loaded on the first hash: it brings ~25 of Node's modules (streams among them),
 * which commands that hash nothing (`why-rebuilt --build N`, `history`, `--version`) need not load.
 */
let cryptoModule: typeof import('node:crypto') | undefined;
const crypto = (): typeof import('node:crypto') => (cryptoModule ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto'));

/** A content digest in OCI form, `sha256:<64 hex>`. Branded so raw strings do not pass as digests. */
export type Digest = string & { readonly __brand: 'Digest' };

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

/** Validates and brands; throws on malformed input (callers validate user input first). */
export function asDigest(s: string): Digest {
  if (!isDigest(s)) throw new Error(`not a sha256 digest: ${JSON.stringify(s)}`);
  return s;
}

export function sha256Digest(data: string | Uint8Array): Digest {
  return `sha256:${crypto().createHash('sha256').update(data).digest('hex')}` as Digest;
}

/** The 64-hex part of a digest. */
export function digestHex(d: Digest): string {
  return d.slice('sha256:'.length);
}

/** Short form for humans: the first 12 hex characters. */
export function shortDigest(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}
