import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createRequire } from 'node:module';
import { StackerError } from '../core/errors.js';
import type { Digest } from '../core/digest.js';
import type { StatCacheView } from './stat-cache.js';
import { stampEntry, stampTree, treeKey } from './tree-stamp.js';

/**
 * Content digests of import inputs: a file, a symlink or a whole directory tree.
 *
 * What a digest covers, per entry: relative path, type, permission bits (incl. setuid/setgid/
 * sticky), uid, gid, and the content sha256 (files), the target (symlinks), the device number
 * (char/block devices), and the first path of the same inode inside the tree (hardlinks). Not
 * covered: mtime/atime/ctime (a `touch` must not rebuild), directory sizes (filesystem-dependent),
 * and xattrs: Node cannot read them without native code, so an xattr-only change is not seen.
 * Every field is length-prefixed (`<bytes>:<text>`), so no two different trees frame to the same
 * byte stream (kaniko's unframed `-`-joined keys collided; PEERS §1.3).
 *
 * Symlinks are never followed: a tree's symlinks are entries, and a top-level symlink is digested
 * as the link itself, because stacker copies symlinks as symlinks.
 *
 * All I/O is synchronous: a sync stat walk and sync 1 MiB-chunk hashing are several times faster
 * in Node than per-file async calls (PEERS §5.1).
 */

export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block';

/** One filesystem entry of an input, as it entered the digest. */
export interface TreeEntry {
  /** Relative to the input root, `/`-separated; the root itself is `.`. */
  path: string;
  type: EntryType;
  /** Permission bits only (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes for files, target length for symlinks, 0 otherwise (informational; not hashed). */
  size: number;
  /** Content sha256 (files only). */
  digest?: Digest;
  /** Symlink target, verbatim. */
  target?: string;
  /** For a hardlinked file: the path of the first entry with the same inode in this input. */
  link?: string;
  /** st_rdev of a device node, in decimal. */
  rdev?: string;
}

export interface InputDigest {
  type: 'file' | 'dir' | 'symlink' | 'missing';
  /** `sha256:` over the framed entries; stable across machines and checkouts. */
  digest: Digest;
  /**
   * Every entry in walk order (directories: depth first, names sorted). Absent when missing, and
   * when the directory matched its tree stamp (the listing was not made: see tree-stamp.ts).
   */
  entries?: TreeEntry[];
}

const FORMAT = 'stacker-input-v1';
const CHUNK = 1 << 20;
let chunk: Buffer | undefined;

/**
 * Digests the input at `absPath`. Regular files' content digests come from `cache` when its row
 * is valid; otherwise the file is hashed and the result recorded in `cache`.
 * @throws StackerError STACKER_E_IMPORT_UNREADABLE / STACKER_E_IMPORT_CHANGED / STACKER_E_IMPORT_TYPE
 */
export interface DigestOptions {
  /**
   * Whether file owners count (default true). Imports are copied into the build by the
   * namespace's root, so the host owner of a source file never reaches the image; leaving it out
   * keeps keys equal for another user's checkout and between the two sides of the namespace.
   * Without ownership, the entries carry uid and gid 0: a listing stays a function of its digest.
   */
  ownership?: boolean;
}

export function digestInput(absPath: string, cache: StatCacheView, opts: DigestOptions = {}): InputDigest {
  const recordedAtNs = cache.now();
  const st = lstatOrUndefined(absPath);
  const hash = createHash('sha256');
  frame(hash, [FORMAT]);
  if (st === undefined) {
    frame(hash, ['missing']);
    return { type: 'missing', digest: finish(hash) };
  }
  const ownership = opts.ownership ?? true;
  const isDir = (Number(st.mode) & constants.S_IFMT) === constants.S_IFDIR;
  const key = isDir ? treeKey(absPath, ownership) : undefined;
  const known = key === undefined ? undefined : cache.treeStamp(key);
  if (known !== undefined) {
    const now = stampTree(absPath, st);
    if (now !== undefined && now.stamp === known.stamp && cache.treeTrusted(known, now.newestNs)) return { type: 'dir', digest: known.digest };
  }
  const ctx: WalkContext = {
    cache, recordedAtNs, inodes: new Map(), hash, entries: [], ownership,
    stamp: isDir ? createHash('sha256') : undefined, stable: true,
  };
  const root = entryFor(absPath, '.', st, ctx);
  if (root.type !== 'file' && root.type !== 'dir' && root.type !== 'symlink') {
    throw new StackerError('STACKER_E_IMPORT_TYPE', `import ${absPath} is a ${root.type}, not a file, directory or symlink`);
  }
  frame(hash, [root.type]);
  add(ctx, root);
  if (ctx.stamp !== undefined) stampEntry(ctx.stamp, '.', st, undefined);
  if (root.type === 'dir') walk(absPath, '.', ctx);
  const digest = finish(hash);
  // A file that changed while it was hashed makes no stamp (its row is not recorded either).
  if (key !== undefined && ctx.stamp !== undefined && ctx.stable) cache.recordTree(key, { stamp: ctx.stamp.digest('hex'), digest, recordedAtNs });
  return { type: root.type, digest, entries: ctx.entries };
}

interface WalkContext {
  cache: StatCacheView;
  recordedAtNs: bigint;
  /** `dev:ino` of multiply linked files seen so far → [first path, content digest]. */
  inodes: Map<string, [string, Digest]>;
  hash: Hash;
  entries: TreeEntry[];
  ownership: boolean;
  /** The tree stamp being computed alongside (directory imports only). */
  stamp: Hash | undefined;
  /** False once a file changed while it was read. */
  stable: boolean;
}

function walk(absDir: string, rel: string, ctx: WalkContext): void {
  let names: string[];
  try {
    names = readdirSync(absDir);
  } catch (e) {
    throw ioError(absDir, e);
  }
  if (names.some((n) => n.includes('\uFFFD'))) checkUtf8Names(absDir);
  names.sort();
  for (const name of names) {
    const abs = `${absDir}/${name}`;
    const relPath = rel === '.' ? name : `${rel}/${name}`;
    const st = lstatOrUndefined(abs);
    if (st === undefined) throw changedError(abs);
    const entry = entryFor(abs, relPath, st, ctx);
    add(ctx, entry);
    if (ctx.stamp !== undefined) stampEntry(ctx.stamp, relPath, st, entry.target);
    if (entry.type === 'dir') walk(abs, relPath, ctx);
  }
  ctx.cache.noteWalked(absDir);
}

function add(ctx: WalkContext, e: TreeEntry): void {
  ctx.entries.push(e);
  const payload = e.digest ?? e.target ?? e.rdev ?? '';
  const uid = ctx.ownership ? String(e.uid) : '';
  const gid = ctx.ownership ? String(e.gid) : '';
  frame(ctx.hash, [e.path, e.type, e.mode.toString(8), uid, gid, payload, e.link ?? '']);
}

// Hot path (one call per entry of every import on every build): no object spread, and the file
// type is decoded once from a plain number, because each BigIntStats.isX() call allocates BigInts.
function entryFor(abs: string, path: string, st: BigIntStats, ctx: WalkContext): TreeEntry {
  const m = Number(st.mode);
  const mode = m & 0o7777;
  const uid = ctx.ownership ? Number(st.uid) : 0;
  const gid = ctx.ownership ? Number(st.gid) : 0;
  switch (m & constants.S_IFMT) {
    case constants.S_IFREG: {
      const size = Number(st.size);
      if (st.nlink > 1n) {
        const id = `${st.dev}:${st.ino}`;
        const first = ctx.inodes.get(id);
        if (first !== undefined) return { path, type: 'file', mode, uid, gid, size, digest: first[1], link: first[0] };
        const digest = contentDigest(abs, st, ctx);
        ctx.inodes.set(id, [path, digest]);
        return { path, type: 'file', mode, uid, gid, size, digest };
      }
      return { path, type: 'file', mode, uid, gid, size, digest: contentDigest(abs, st, ctx) };
    }
    case constants.S_IFDIR:
      return { path, type: 'dir', mode, uid, gid, size: 0 };
    case constants.S_IFLNK: {
      let target: string;
      try {
        target = readlinkSync(abs);
      } catch (e) {
        throw ioError(abs, e);
      }
      return { path, type: 'symlink', mode, uid, gid, size: Buffer.byteLength(target), target };
    }
    case constants.S_IFIFO:
      return { path, type: 'fifo', mode, uid, gid, size: 0 };
    case constants.S_IFSOCK:
      return { path, type: 'socket', mode, uid, gid, size: 0 };
    case constants.S_IFCHR:
      return { path, type: 'char', mode, uid, gid, size: 0, rdev: String(st.rdev) };
    default:
      return { path, type: 'block', mode, uid, gid, size: 0, rdev: String(st.rdev) };
  }
}

/** The content digest of a regular file: from the stat cache, else hashed and recorded. */
function contentDigest(abs: string, st: BigIntStats, ctx: WalkContext): Digest {
  const cached = ctx.cache.lookup(abs, st);
  if (cached !== undefined) return cached;
  const { digest, after, bytes } = hashFile(abs);
  ctx.cache.noteHashed(bytes);
  // Record only when the file did not change between the lstat and the end of the read (and is
  // still the same inode); otherwise the row could vouch for content we never read.
  if (sameTuple(st, after) && BigInt(bytes) === after.size) ctx.cache.record(abs, st, digest, ctx.recordedAtNs);
  else ctx.stable = false;
  return digest;
}

function hashFile(abs: string): { digest: Digest; after: BigIntStats; bytes: number } {
  let fd: number;
  try {
    fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    if (isErrno(e, 'ELOOP') || isErrno(e, 'ENOENT')) throw changedError(abs);
    throw ioError(abs, e);
  }
  try {
    chunk ??= Buffer.allocUnsafe(CHUNK);
    const h = createHash('sha256');
    let bytes = 0;
    for (;;) {
      const n = readSync(fd, chunk, 0, CHUNK, null);
      if (n === 0) break;
      h.update(n === CHUNK ? chunk : chunk.subarray(0, n));
      bytes += n;
    }
    const after = fstatSync(fd, { bigint: true });
    return { digest: `sha256:${h.digest('hex')}` as Digest, after, bytes };
  } catch (e) {
    throw ioError(abs, e);
  } finally {
    closeSync(fd);
  }
}

function sameTuple(a: BigIntStats, b: BigIntStats): boolean {
  return (
    a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs && a.mode === b.mode
  );
}

/** Appends length-prefixed fields: `<utf8 byte length>:<text>` each. */
function frame(hash: Hash, fields: string[]): void {
  let s = '';
  for (const f of fields) s += `${Buffer.byteLength(f)}:${f}`;
  hash.update(s);
}

function finish(hash: Hash): Digest {
  return `sha256:${hash.digest('hex')}` as Digest;
}

function lstatOrUndefined(p: string): BigIntStats | undefined {
  try {
    return lstatSync(p, { bigint: true });
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return undefined;
    throw ioError(p, e);
  }
}

/** Names are hashed as UTF-8 text: reject names that are not valid UTF-8 instead of hashing a lossy decoding. */
function checkUtf8Names(absDir: string): void {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (const raw of readdirSync(absDir, { encoding: 'buffer' })) {
    try {
      decoder.decode(raw);
    } catch {
      throw new StackerError('STACKER_E_IMPORT_NAME', `a file name in ${absDir} is not valid UTF-8`, {
        hint: 'rename the file; OCI layers store names as UTF-8',
      });
    }
  }
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

function ioError(p: string, e: unknown): StackerError {
  const code = typeof e === 'object' && e !== null ? String((e as { code?: unknown }).code ?? '') : '';
  return new StackerError('STACKER_E_IMPORT_UNREADABLE', `cannot read import ${p}${code ? ` (${code})` : ''}`, {
    hint: 'check that the file exists and that the user running stacker can read it',
    cause: e,
  });
}

function changedError(p: string): StackerError {
  return new StackerError('STACKER_E_IMPORT_CHANGED', `import ${p} changed while it was being read`, {
    hint: 'something is writing to the import; run the build again when it is done',
  });
}

// ---- compact storage and comparison of entry lists (for why-rebuilt) ----

type Packed = [string, EntryType, number, number, number, number, string, string?];

/** node:zlib takes milliseconds to load and only packed listings need it, not a no-op plan. */
let zlibModule: typeof import('node:zlib') | undefined;
const zlib = (): typeof import('node:zlib') => (zlibModule ??= createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib'));

/** Packs entries for the index (`BuildIndex.putTree`): tuples as JSON, raw-deflated. */
export function packEntries(entries: TreeEntry[]): Buffer {
  const rows: Packed[] = entries.map((e) => {
    const payload = e.digest !== undefined ? e.digest.slice(7) : (e.target ?? e.rdev ?? '');
    const row: Packed = [e.path, e.type, e.mode, e.uid, e.gid, e.size, payload];
    if (e.link !== undefined) row.push(e.link);
    return row;
  });
  return zlib().deflateRawSync(JSON.stringify(rows));
}

export function unpackEntries(buf: Uint8Array): TreeEntry[] {
  const rows = JSON.parse(zlib().inflateRawSync(buf).toString('utf8')) as Packed[];
  return rows.map(([path, type, mode, uid, gid, size, payload, link]) => {
    const e: TreeEntry = { path, type, mode, uid, gid, size };
    if (type === 'file') e.digest = `sha256:${payload}` as Digest;
    else if (type === 'symlink') e.target = payload;
    else if (type === 'char' || type === 'block') e.rdev = payload;
    if (link !== undefined) e.link = link;
    return e;
  });
}

/** How one path differs between two entry lists. `fields` names what changed for 'modified'. */
export interface TreeChange {
  path: string;
  change: 'added' | 'removed' | 'modified';
  fields: Array<'type' | 'mode' | 'uid' | 'gid' | 'content' | 'target' | 'rdev' | 'link'>;
  before?: TreeEntry;
  after?: TreeEntry;
}

/** Per-path differences between two listings of the same input, sorted by path. */
export function diffTrees(before: TreeEntry[], after: TreeEntry[]): TreeChange[] {
  const old = new Map(before.map((e) => [e.path, e]));
  const cur = new Map(after.map((e) => [e.path, e]));
  const out: TreeChange[] = [];
  for (const [path, a] of old) {
    const b = cur.get(path);
    if (b === undefined) {
      out.push({ path, change: 'removed', fields: [], before: a });
      continue;
    }
    const fields: TreeChange['fields'] = [];
    if (a.type !== b.type) fields.push('type');
    if (a.mode !== b.mode) fields.push('mode');
    if (a.uid !== b.uid) fields.push('uid');
    if (a.gid !== b.gid) fields.push('gid');
    if (a.digest !== b.digest) fields.push('content');
    if (a.target !== b.target) fields.push('target');
    if (a.rdev !== b.rdev) fields.push('rdev');
    if (a.link !== b.link) fields.push('link');
    if (fields.length > 0) out.push({ path, change: 'modified', fields, before: a, after: b });
  }
  for (const [path, b] of cur) if (!old.has(path)) out.push({ path, change: 'added', fields: [], after: b });
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}
