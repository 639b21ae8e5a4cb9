/**
 * Turns what the upper-dir walk sees into tar entry headers: numeric ownership only, permission
 * bits incl. setuid/setgid/sticky, mtime in whole seconds clamped to SOURCE_DATE_EPOCH (like
 * `tar --clamp-mtime`), no atime/ctime, hardlinks by (dev, ino), device major/minor.
 */
import { readlinkSync, type Stats } from 'node:fs';
import type { TarEntry } from './tar-header.js';
import type { UpperEntry } from './upper-walk.js';

export interface EntryContext {
  sourceDateEpoch: number | undefined;
  /** (dev:ino) of multiply-linked regular files already emitted -> their tar name. */
  links: Map<string, Buffer>;
  warn: (msg: string) => void;
}

export function clampMtime(st: Stats, sde: number | undefined): number {
  const t = Math.floor(st.mtimeMs / 1000);
  return sde !== undefined && t > sde ? sde : t;
}

/** glibc's gnu_dev_major/minor, without 32-bit overflow. */
export function devMajor(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & 0xfffff000);
}

export function devMinor(rdev: number): number {
  return (rdev & 0xff) | ((Math.floor(rdev / 2 ** 12) & 0xffffff00) >>> 0);
}

function base(rel: Buffer, st: Stats, ctx: EntryContext): Omit<TarEntry, 'type'> {
  return { name: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: 0, mtime: clampMtime(st, ctx.sourceDateEpoch) };
}

function fileEntry(e: Extract<UpperEntry, { kind: 'node' }>, ctx: EntryContext): TarEntry {
  const b = base(e.rel, e.st, ctx);
  if (e.st.nlink > 1) {
    const key = `${e.st.dev}:${e.st.ino}`;
    const first = ctx.links.get(key);
    if (first) return { ...b, type: 'hardlink', linkname: first };
    ctx.links.set(key, e.rel);
  }
  return { ...b, type: 'file', size: e.st.size, xattrs: e.xattrs.kept };
}

/** The tar entry for one walk entry, or undefined for what tar cannot carry (sockets). */
export function toTarEntry(e: UpperEntry, ctx: EntryContext): TarEntry | undefined {
  if (e.kind === 'whiteout') {
    // As containerd writes them: an empty regular file, mode 0, owned by root.
    return { name: e.rel, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: clampMtime(e.st, ctx.sourceDateEpoch) };
  }
  const st = e.st;
  const xattrs = e.xattrs.kept;
  if (st.isFile()) return fileEntry(e, ctx);
  if (st.isDirectory()) return { ...base(e.rel, st, ctx), type: 'dir', xattrs };
  if (st.isSymbolicLink()) {
    return { ...base(e.rel, st, ctx), type: 'symlink', linkname: readlinkSync(e.abs, { encoding: 'buffer' }), xattrs };
  }
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    const type = st.isCharacterDevice() ? 'char' : 'block';
    return { ...base(e.rel, st, ctx), type, devmajor: devMajor(st.rdev), devminor: devMinor(st.rdev), xattrs };
  }
  if (st.isFIFO()) return { ...base(e.rel, st, ctx), type: 'fifo', xattrs };
  ctx.warn(`skipping socket ${e.rel.toString('utf8')}: tar cannot carry sockets`);
  return undefined;
}
