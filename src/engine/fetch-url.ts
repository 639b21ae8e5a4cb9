import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StackerError, type SourceLocation } from '../core/index.js';
import { httpFetch } from '../core/http.js';

export interface FetchOptions {
  /**
   * With no expected hash, whether a cached copy is checked with the server (a conditional GET
   * with the stored ETag / Last-Modified; default true), so changed content is seen. `false`
   * uses a cached copy as it is: for the build step after a plan that has just revalidated it.
   * A URL with an expected hash is never fetched again while the cached copy matches.
   */
  revalidate?: boolean;
  /** Where the URL is written in the stacker.yaml, for the errors. */
  location?: SourceLocation;
}

interface Meta { digest: string; etag?: string; lastModified?: string }

/**
 * Downloads a URL into the downloads cache (`<dir>/<sha256(url)>/content`). Returns the file
 * and its sha256 (`sha256:<hex>`).
 */
export async function fetchUrl(dir: string, url: string, expectedHex?: string, opts: FetchOptions = {}): Promise<{ file: string; digest: string }> {
  const slot = join(dir, createHash('sha256').update(url).digest('hex'));
  // One download per URL at a time in this process (layers build in parallel): a second caller
  // waits for the first, then usually finds the copy it left.
  for (let cur = busy.get(slot); cur !== undefined; cur = busy.get(slot)) await cur.catch(() => {});
  const p = fetchInto(slot, url, expectedHex, opts);
  busy.set(slot, p);
  try {
    return await p;
  } finally {
    busy.delete(slot);
  }
}

const busy = new Map<string, Promise<unknown>>();

async function fetchInto(slot: string, url: string, expectedHex: string | undefined, opts: FetchOptions): Promise<{ file: string; digest: string }> {
  const file = join(slot, 'content');
  const metaFile = join(slot, 'meta.json');
  const cached = readMeta(metaFile, file);
  if (cached !== undefined) {
    if (expectedHex !== undefined && cached.digest === `sha256:${expectedHex}`) return { file, digest: cached.digest };
    if (expectedHex === undefined && opts.revalidate === false) return { file, digest: cached.digest };
  }
  mkdirSync(slot, { recursive: true });
  const headers: Record<string, string> = {};
  if (cached !== undefined && expectedHex === undefined) {
    if (cached.etag !== undefined) headers['if-none-match'] = cached.etag;
    if (cached.lastModified !== undefined) headers['if-modified-since'] = cached.lastModified;
  }
  const where = opts.location !== undefined ? { location: opts.location } : {};
  let res: Response;
  try {
    res = await httpFetch(url, { redirect: 'follow', headers });
  } catch (e) {
    const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
    throw new StackerError('STACKER_E_DOWNLOAD', `couldn't download ${url}: ${cause}`, { ...where, hint: 'check the URL and that the server is reachable' });
  }
  if (res.status === 304 && cached !== undefined) {
    await res.body?.cancel();
    return { file, digest: cached.digest };
  }
  if (res.status !== 200 || res.body === null) {
    await res.body?.cancel();
    throw new StackerError('STACKER_E_DOWNLOAD', `couldn't download ${url}: ${res.status} ${res.statusText}`, where);
  }
  const tmp = `${file}.${process.pid}.tmp`;
  const h = createHash('sha256');
  try {
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', (c: Buffer) => h.update(c));
    await pipeline(body, createWriteStream(tmp));
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new StackerError('STACKER_E_DOWNLOAD', `couldn't download ${url}: ${(e as Error).message}`, where);
  }
  const digest = `sha256:${h.digest('hex')}`;
  if (expectedHex !== undefined && digest !== `sha256:${expectedHex}`) {
    rmSync(tmp, { force: true });
    throw new StackerError('STACKER_E_IMPORT_HASH', `Downloaded file hash does not match. Expected: ${expectedHex} Actual: ${digest.slice(7)}`, {
      ...where,
      hint: 'the server sent different content than the `hash:` in the stacker.yaml pins',
    });
  }
  // The metadata goes first (a crash in between leaves content without metadata: downloaded again).
  rmSync(metaFile, { force: true });
  renameSync(tmp, file);
  const meta: Meta = { digest };
  const etag = res.headers.get('etag');
  const lastModified = res.headers.get('last-modified');
  if (etag !== null) meta.etag = etag;
  if (lastModified !== null) meta.lastModified = lastModified;
  writeFileSync(`${metaFile}.${process.pid}.tmp`, JSON.stringify(meta));
  renameSync(`${metaFile}.${process.pid}.tmp`, metaFile);
  return { file, digest };
}

function readMeta(metaFile: string, file: string): Meta | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const m = JSON.parse(readFileSync(metaFile, 'utf8')) as Meta;
    return /^sha256:[0-9a-f]{64}$/.test(m.digest) ? m : undefined;
  } catch {
    return undefined;
  }
}
