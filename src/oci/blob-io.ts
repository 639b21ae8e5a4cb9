import { createHash, randomBytes } from 'node:crypto';
import { close, closeSync, createReadStream, fsync, fsyncSync, open, openSync, renameSync, rmSync, write, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { StackerError, type Digest } from '../core/index.js';

/**
 * Low-level blob I/O: streaming hashing, verified writes to temp files, atomic replacement.
 * Nothing here buffers a whole blob; memory use is one chunk at a time. Small files (documents,
 * index.json) and directory syncs are written synchronously: a round trip through libuv's
 * threadpool costs more than such a call (the fsync blocks this thread, ~1 ms).
 */

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface Expected {
  digest?: Digest;
  size?: number;
}

export function corruptError(what: string, detail: string): StackerError {
  return new StackerError('STACKER_E_BLOB_CORRUPT', `${what}: ${detail}`, {
    hint: 'the content does not match its digest; remove the damaged copy and fetch it again',
  });
}

/** A unique temp file name next to `target`'s directory or in `dir`. */
export function tempName(dir: string, prefix = '.tmp-'): string {
  return join(dir, `${prefix}${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Hashes a file by streaming it. */
export async function hashFile(path: string): Promise<BlobInfo> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${h.digest('hex')}` as Digest, size };
}

/**
 * Streams `source` into a new file at `path` (created exclusively), hashing as it goes; stops as
 * soon as more than `expected.size` bytes arrive (so a lying source cannot fill the disk), checks
 * size and digest at the end, fsyncs, and closes. On any failure the file is removed.
 */
export async function writeVerifiedFile(
  path: string,
  source: AsyncIterable<Uint8Array> | Uint8Array,
  expected: Expected,
  what: string,
  onBytes?: (bytesSoFar: number) => void,
): Promise<BlobInfo> {
  const fd = await openAsync(path, 'wx', 0o644);
  let ok = false;
  try {
    const h = createHash('sha256');
    let size = 0;
    const chunks: AsyncIterable<Uint8Array> | Uint8Array[] = source instanceof Uint8Array ? [source] : source;
    for await (const chunk of chunks) {
      size += chunk.length;
      if (expected.size !== undefined && size > expected.size) {
        throw corruptError(what, `more than the expected ${expected.size} bytes`);
      }
      h.update(chunk);
      let off = 0;
      while (off < chunk.length) {
        off += await writeAsync(fd, chunk, off, chunk.length - off);
      }
      onBytes?.(size);
    }
    const digest = `sha256:${h.digest('hex')}` as Digest;
    if (expected.size !== undefined && size !== expected.size) {
      throw corruptError(what, `got ${size} bytes, expected ${expected.size}`);
    }
    if (expected.digest !== undefined && digest !== expected.digest) {
      throw corruptError(what, `content digest is ${digest}, expected ${expected.digest}`);
    }
    await fsyncAsync(fd);
    ok = true;
    return { digest, size };
  } finally {
    await closeAsync(fd);
    if (!ok) rmSync(path, { force: true });
  }
}

// The callback API, promisified: node:fs/promises would load ~8 more modules (readline among them).
const openAsync = promisify(open);
const writeAsync = (fd: number, b: Uint8Array, off: number, len: number): Promise<number> =>
  new Promise((resolve, reject) => write(fd, b, off, len, null, (e, n) => (e ? reject(e) : resolve(n))));
const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);

/** Writes `data` to a new file at `path` (created exclusively) and fsyncs it; on failure the file is removed. */
export function writeDurableFileSync(path: string, data: Uint8Array): void {
  const fd = openSync(path, 'wx', 0o644);
  let ok = false;
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(path, { force: true });
  }
}

/** fsync a directory so a rename in it is durable. Best effort on filesystems that refuse. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems (and some container setups) do not allow fsync on directories.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Replaces `path` atomically with `data`: temp file in the same directory, fsync, rename, fsync dir. */
export function atomicWriteFile(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  const tmp = tempName(dir, `.${Date.now()}.tmp-`);
  writeDurableFileSync(tmp, typeof data === 'string' ? Buffer.from(data) : data);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

/**
 * Wraps an async iterable of chunks so that it fails when the total exceeds `size`, and checks
 * size and digest when the source ends. For verified reads that must not buffer.
 */
export async function* verifyingStream(
  source: AsyncIterable<Uint8Array>,
  expected: Expected,
  what: string,
): AsyncGenerator<Uint8Array> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (expected.size !== undefined && size > expected.size) {
      throw corruptError(what, `more than the expected ${expected.size} bytes`);
    }
    h.update(chunk);
    yield chunk;
  }
  if (expected.size !== undefined && size !== expected.size) {
    throw corruptError(what, `got ${size} bytes, expected ${expected.size}`);
  }
  const digest = `sha256:${h.digest('hex')}`;
  if (expected.digest !== undefined && digest !== expected.digest) {
    throw corruptError(what, `content digest is ${digest}, expected ${expected.digest}`);
  }
}
