import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StackerError } from '../core/index.js';

/**
 * Downloads a URL into the downloads cache (`<dir>/<sha256(url)>`), once: a URL with a pinned
 * hash is never fetched again while the cached copy matches. Returns the file and its sha256.
 */
export async function fetchUrl(dir: string, url: string, expectedHex?: string): Promise<{ file: string; digest: string }> {
  const slot = join(dir, createHash('sha256').update(url).digest('hex'));
  const file = join(slot, 'content');
  const digestFile = join(slot, 'sha256');
  if (existsSync(file) && existsSync(digestFile)) {
    const digest = readFileSync(digestFile, 'utf8').trim();
    if (expectedHex === undefined || digest === `sha256:${expectedHex}`) return { file, digest };
  }
  mkdirSync(slot, { recursive: true });
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (e) {
    throw new StackerError('STACKER_E_DOWNLOAD', `couldn't download ${url}: ${(e as Error).message}`);
  }
  if (res.status !== 200 || res.body === null) {
    throw new StackerError('STACKER_E_DOWNLOAD', `couldn't download ${url}: ${res.status} ${res.statusText}`);
  }
  const tmp = `${file}.${process.pid}.tmp`;
  const h = createHash('sha256');
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (c: Buffer) => h.update(c));
  await pipeline(body, createWriteStream(tmp));
  const digest = `sha256:${h.digest('hex')}`;
  if (expectedHex !== undefined && digest !== `sha256:${expectedHex}`) {
    rmSync(tmp, { force: true });
    throw new StackerError('STACKER_E_IMPORT_HASH', `Downloaded file hash does not match. Expected: ${expectedHex} Actual: ${digest.slice(7)}`, {
      hint: 'the server sent different content than the `hash:` in the stacker.yaml pins',
    });
  }
  renameSync(tmp, file);
  writeFileSync(digestFile, digest);
  return { file, digest };
}
