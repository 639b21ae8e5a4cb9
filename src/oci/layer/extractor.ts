/**
 * Applies tar entries to a fresh directory that becomes an overlayfs lower dir. Called by the
 * TarReader, synchronously, entry by entry. Containment rules live in secure-path.ts; this file
 * decides what each entry type becomes:
 *
 *  - `.wh.x` -> char 0/0 device `x` (overlay's whiteout); if `x` already came from this layer it
 *    stays (a whiteout only hides lower layers), and a directory `x` becomes opaque instead;
 *  - `.wh..wh..opq` -> `user.overlay.opaque=y` on its directory, wherever it appears;
 *  - a later entry for an existing path: dir over dir keeps the dir and takes the attributes,
 *    anything else is removed first, then recreated (a dir replacing a whiteout turns opaque);
 *  - device nodes are skipped with a warning (never mknod a device from an untrusted layer);
 *  - hardlinks must point at a regular file or symlink already extracted in this root.
 */
import { closeSync, constants, futimesSync, linkSync, lutimesSync, mkdirSync, openSync, rmSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { StackerError } from '../../core/errors.js';
import { setMode, setOwner, setXattrs, type Warn } from './apply-meta.js';
import { LayerErrorCode, pathTooLong } from './limits.js';
import { native } from './native.js';
import { cleanComponents, isWhiteoutDevice, lstatOrUndefined, RootResolver } from './secure-path.js';
import type { TarEntryInfo, TarHandler } from './tar-reader.js';
import { classifyWhiteout } from './whiteouts.js';

const OPAQUE = 'user.overlay.opaque';
const Y = Buffer.from('y');
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

interface OpenFile {
  fd: number;
  abs: Buffer;
  e: TarEntryInfo;
  what: string;
}

export class Extractor implements TarHandler {
  private readonly r: RootResolver;
  private file: OpenFile | undefined;
  private readonly dirTimes = new Map<string, { abs: Buffer; mtime: number }>();

  constructor(destDir: string, private readonly warn: Warn, private readonly maxPathLength: number) {
    this.r = new RootResolver(destDir);
  }

  entry(e: TarEntryInfo): void {
    if (e.name.length > this.maxPathLength) throw pathTooLong('name', e.name.length, this.maxPathLength);
    if (e.linkname.length > this.maxPathLength) throw pathTooLong('link target', e.linkname.length, this.maxPathLength);
    const what = e.name.toString('utf8');
    const parts = cleanComponents(e.name);
    const base = parts.pop();
    if (!base) return this.rootEntry(e, what);
    const wh = classifyWhiteout(base);
    if (wh.kind === 'meta') return this.warn(`${what}: skipping AUFS metadata entry`);
    if (wh.kind === 'opaque') return native().lsetxattr(this.r.resolveDir(parts, true) as Buffer, OPAQUE, Y);
    if (wh.kind === 'whiteout') return this.whiteout(parts, wh.target, e.mtime);
    if (e.type === 'char' || e.type === 'block') return this.warn(`${what}: skipping device node (${e.devmajor}:${e.devminor})`);
    if (e.type === 'other') return this.warn(`${what}: skipping entry of unsupported type '${e.typeflag}'`);
    const parent = this.r.resolveDir(parts, true) as Buffer;
    const abs = this.r.join(parent, base);
    if (e.type === 'dir') return this.dir(abs, e, what);
    if (e.type === 'hardlink') return this.hardlink(abs, e, what);
    this.clear(abs, false);
    if (e.type === 'symlink') return this.symlink(abs, e, what);
    if (e.type === 'fifo') return this.fifo(abs, e, what);
    const fd = openSync(abs, CREATE_FLAGS, 0o600);
    this.file = { fd, abs, e, what };
  }

  data(chunk: Buffer): void {
    if (!this.file) return;
    let off = 0;
    while (off < chunk.length) off += writeSync(this.file.fd, chunk, off);
  }

  endEntry(): void {
    const f = this.file;
    if (!f) return;
    this.file = undefined;
    try {
      setOwner({ fd: f.fd }, f.e.uid, f.e.gid, f.what);
      setMode({ fd: f.fd }, f.e.mode);
      setXattrs(f.abs, f.e.xattrs, this.warn, f.what);
      futimesSync(f.fd, f.e.mtime, f.e.mtime);
    } finally {
      closeSync(f.fd);
    }
  }

  /** Sets directory times last (creating children changes them), only on still-real dirs. */
  finish(): void {
    for (const { abs, mtime } of this.dirTimes.values()) {
      if (this.r.isRealDir(abs)) lutimesSync(abs, mtime, mtime);
    }
  }

  /** Closes a file left open by a failure. */
  abort(): void {
    if (this.file) closeSync(this.file.fd);
    this.file = undefined;
  }

  /**
   * Makes room for a new entry at `abs`: returns 'keep-dir' when both are directories, else
   * removes what is there (never following a symlink) and says whether it was a whiteout.
   */
  private clear(abs: Buffer, newIsDir: boolean): 'keep-dir' | 'was-whiteout' | 'clear' {
    const st = lstatOrUndefined(abs);
    if (!st) return 'clear';
    if (newIsDir && st.isDirectory()) return 'keep-dir';
    if (st.isDirectory()) {
      rmSync(abs, { recursive: true });
      this.r.forget();
      const key = abs.toString('latin1');
      for (const k of [...this.dirTimes.keys()]) if (k === key || k.startsWith(`${key}/`)) this.dirTimes.delete(k);
      return 'clear';
    }
    unlinkSync(abs);
    return isWhiteoutDevice(st) ? 'was-whiteout' : 'clear';
  }

  private rootEntry(e: TarEntryInfo, what: string): void {
    if (e.type !== 'dir') {
      throw new StackerError(LayerErrorCode.unsafe, `entry ${JSON.stringify(what)} (${e.type}) would replace the layer root`, {
        hint: 'a symlink or file named `/`, `.` or `..` is how CVE-2021-29136 escaped; the layer is refused',
      });
    }
    this.dirAttrs(this.r.root, e, what);
  }

  private dir(abs: Buffer, e: TarEntryInfo, what: string): void {
    const prior = this.clear(abs, true);
    if (prior !== 'keep-dir') mkdirSync(abs, 0o700);
    this.r.remember(abs);
    if (prior === 'was-whiteout') native().lsetxattr(abs, OPAQUE, Y);
    this.dirAttrs(abs, e, what);
  }

  private dirAttrs(abs: Buffer, e: TarEntryInfo, what: string): void {
    setOwner({ path: abs }, e.uid, e.gid, what);
    setMode({ path: abs }, e.mode);
    setXattrs(abs, e.xattrs, this.warn, what);
    this.dirTimes.set(abs.toString('latin1'), { abs, mtime: e.mtime });
  }

  private symlink(abs: Buffer, e: TarEntryInfo, what: string): void {
    symlinkSync(e.linkname, abs);
    setOwner({ path: abs }, e.uid, e.gid, what);
    setXattrs(abs, e.xattrs, this.warn, what);
    lutimesSync(abs, e.mtime, e.mtime);
  }

  private fifo(abs: Buffer, e: TarEntryInfo, what: string): void {
    native().mknod(abs, constants.S_IFIFO | (e.mode & 0o777), 0, 0);
    setOwner({ path: abs }, e.uid, e.gid, what);
    setMode({ path: abs }, e.mode);
    setXattrs(abs, e.xattrs, this.warn, what);
    lutimesSync(abs, e.mtime, e.mtime);
  }

  private hardlink(abs: Buffer, e: TarEntryInfo, what: string): void {
    const fail = (why: string): StackerError =>
      new StackerError(LayerErrorCode.hardlink, `hardlink ${JSON.stringify(what)} -> ${JSON.stringify(e.linkname.toString('utf8'))}: ${why}`);
    const parts = cleanComponents(e.linkname);
    const base = parts.pop();
    if (!base) throw fail('points at the layer root');
    const parent = this.r.resolveDir(parts, false);
    const target = parent && this.r.join(parent, base);
    const st = target && lstatOrUndefined(target);
    if (!target || !st) throw fail('the target is not in this layer (it must be extracted before the link)');
    if (!st.isFile() && !st.isSymbolicLink()) throw fail('the target is not a regular file or symlink');
    if (target.equals(abs)) return;
    this.clear(abs, false);
    linkSync(target, abs); // link(2) never follows a symlink target; no attribute change after it
  }

  private whiteout(parts: Buffer[], name: Buffer, mtime: number): void {
    const abs = this.r.join(this.r.resolveDir(parts, true) as Buffer, name);
    const st = lstatOrUndefined(abs);
    if (!st) {
      native().mknod(abs, constants.S_IFCHR, 0, 0);
      return lutimesSync(abs, mtime, mtime);
    }
    if (st.isDirectory()) native().lsetxattr(abs, OPAQUE, Y);
    // A non-directory from this same layer stays: whiteouts only hide lower layers.
  }
}
