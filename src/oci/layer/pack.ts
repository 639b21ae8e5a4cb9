/**
 * packLayer: an overlayfs upper directory -> one OCI `tar+gzip` layer blob, in one streaming pass
 * (walk -> tar -> sha256 diff_id -> fixed-size chunks -> parallel independent gzip members ->
 * sha256 digest -> file). See upper-walk.ts for the order and whiteout translation,
 * tar-header.ts for the format, gzip-members.ts for compression and determinism.
 */
import { closeSync, constants, openSync, readSync, unlinkSync } from 'node:fs';
import type { Digest } from '../../core/digest.js';
import { StackerError } from '../../core/errors.js';
import { GzipMemberSink } from './gzip-members.js';
import { DEFAULT_CHUNK_SIZE, DEFAULT_LEVEL } from './recipe.js';
export { DEFAULT_CHUNK_SIZE, DEFAULT_LEVEL, packRecipe } from './recipe.js';
import { toTarEntry, type EntryContext } from './pack-entry.js';
import { encodeHeader, END_OF_ARCHIVE, paddingFor, type TarEntry } from './tar-header.js';
import { walkUpper } from './upper-walk.js';

export const LAYER_TAR_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface PackOptions {
  outFile: string;
  /** Clamp every mtime to this (seconds since the epoch), like `tar --clamp-mtime`. */
  sourceDateEpoch?: number;
  /** gzip level, default 6. */
  level?: number;
  /** Tar bytes per gzip member, default 1 MiB. Part of what determines the blob digest. */
  chunkSize?: number;
  /** Paths relative to the upper dir (no leading `/`); true skips the entry (and a dir's subtree). */
  exclude?: (relPath: string) => boolean;
  /** Members compressed at once; default cores + 1. Never changes the output. */
  concurrency?: number;
  /** Non-fatal notes (e.g. a socket that was skipped). */
  onWarning?: (msg: string) => void;
  /** Tar bytes packed so far; called about every 4 MiB and once at the end. */
  onProgress?: (tarBytes: number) => void;
  /**
   * Packing from outside the user namespace the upper dir was written in: its ids as seen here
   * -> the ids inside. An id it does not map, or an attribute whose value holds ids (file
   * capabilities, ACLs), throws NEEDS_NAMESPACE: such a dir is packed inside.
   */
  ids?: { uid(outer: number): number | undefined; gid(outer: number): number | undefined };
}

/** The upper dir must be packed inside its user namespace (see PackOptions.ids). */
export const NEEDS_NAMESPACE = 'STACKER_E_NEEDS_NAMESPACE';

/** Attributes whose values the kernel translates between user namespaces. */
const ID_BEARING_XATTR = /^(security\.capability$|system\.posix_acl_)/;

/**
 * Why an entry read outside the user namespace it was written in cannot be packed from there:
 * an id the namespace does not map, or an attribute whose value the kernel translates between
 * user namespaces (file capabilities, POSIX ACLs). Undefined when it can.
 */
export function outsideProblem(name: string, uid: number, gid: number, xattrs: ReadonlyArray<readonly [string, Buffer]>, ids: NonNullable<PackOptions['ids']>): string | undefined {
  if (ids.uid(uid) === undefined || ids.gid(gid) === undefined) return `${name} is owned by ${uid}:${gid}, outside the build namespace's ids`;
  const x = xattrs.find(([n]) => ID_BEARING_XATTR.test(n));
  return x === undefined ? undefined : `${name} carries ${x[0]}, whose value depends on the namespace it is read in`;
}

function insideIds(t: TarEntry, ids: NonNullable<PackOptions['ids']>): void {
  const why = outsideProblem(t.name.toString('utf8'), t.uid, t.gid, t.xattrs ?? [], ids);
  if (why !== undefined) throw new StackerError(NEEDS_NAMESPACE, why);
  t.uid = ids.uid(t.uid)!;
  t.gid = ids.gid(t.gid)!;
}

const PROGRESS_EVERY = 4 << 20;

export interface PackResult {
  digest: Digest;
  diffId: Digest;
  /** Compressed bytes. */
  size: number;
  /** Tar bytes. */
  uncompressedSize: number;
  /** Tar entries written (whiteouts and opaque markers included, PAX headers not). */
  entries: number;
  mediaType: typeof LAYER_TAR_GZIP;
}



/** Streams `size` bytes of the file straight into the sink's chunk buffer (no extra copy). */
async function copyContent(sink: GzipMemberSink, abs: Buffer, size: number, name: string): Promise<void> {
  const fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    let left = size;
    while (left > 0) {
      const space = sink.space();
      const n = readSync(fd, space, 0, Math.min(space.length, left), null);
      if (n === 0) {
        throw new StackerError('STACKER_E_LAYER_CHANGED', `${name} shrank while it was being packed`, {
          hint: 'nothing may write to the layer directory while it is packed',
        });
      }
      left -= n;
      const p = sink.commit(n);
      if (p) await p;
    }
  } finally {
    closeSync(fd);
  }
}

async function writeEntry(sink: GzipMemberSink, t: TarEntry, abs: Buffer | undefined): Promise<void> {
  let p = sink.write(encodeHeader(t));
  if (p) await p;
  if (t.type !== 'file' || t.size === 0 || !abs) return;
  await copyContent(sink, abs, t.size, t.name.toString('utf8'));
  p = sink.zeros(paddingFor(t.size));
  if (p) await p;
}

/**
 * Packs `upperDir` into `opts.outFile`. Returns null, and writes no file, when there is nothing
 * to pack (an empty upper dir, or everything excluded).
 */
export async function packLayer(upperDir: string, opts: PackOptions): Promise<PackResult | null> {
  const sink = new GzipMemberSink({
    outFile: opts.outFile,
    level: opts.level ?? DEFAULT_LEVEL,
    chunkSize: opts.chunkSize ?? DEFAULT_CHUNK_SIZE,
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
  });
  const ctx: EntryContext = { sourceDateEpoch: opts.sourceDateEpoch, links: new Map(), warn: opts.onWarning ?? (() => {}) };
  let entries = 0;
  let reported = 0;
  try {
    for (const e of walkUpper(upperDir, opts.exclude)) {
      const t = toTarEntry(e, ctx);
      if (!t) continue;
      if (opts.ids !== undefined && e.kind === 'node') insideIds(t, opts.ids);
      entries++;
      await writeEntry(sink, t, e.kind === 'node' ? e.abs : undefined);
      if (opts.onProgress && sink.bytesIn - reported >= PROGRESS_EVERY) {
        reported = sink.bytesIn;
        opts.onProgress(reported);
      }
    }
    if (entries === 0) return null;
    opts.onProgress?.(sink.bytesIn);
    const p = sink.write(END_OF_ARCHIVE);
    if (p) await p;
    const r = await sink.finish();
    return {
      digest: r.digest as Digest, diffId: r.diffId as Digest, size: r.size,
      uncompressedSize: r.uncompressedSize, entries, mediaType: LAYER_TAR_GZIP,
    };
  } catch (e) {
    sink.close();
    try { unlinkSync(opts.outFile); } catch { /* never created */ }
    throw e;
  }
}
