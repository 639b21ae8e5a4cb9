/**
 * Path containment for extraction. Node has no openat2(RESOLVE_IN_ROOT), so every parent path
 * is resolved here component by component with lstat, the way containerd's fs.RootPath does:
 *
 *  - names are cleaned lexically: leading `/` stripped, `.` dropped, `..` clamped at the root;
 *  - a parent component that is a symlink (created by an earlier entry) is expanded *inside the
 *    root*: an absolute target restarts at the root, `..` never climbs above it. This is
 *    containerd's choice (clamp, not fail), so layers that write through their own directory
 *    symlinks still extract, and nothing can reach outside (see test/security/breakouts.test.ts);
 *  - the result is a chain of real directories; the final component is never followed: callers
 *    create it with O_EXCL/O_NOFOLLOW semantics and change attributes only after lstat says it
 *    is not a symlink.
 *
 * Only this process writes to the root while a layer is extracted (it is a fresh directory), so
 * a resolved chain stays valid until this process itself removes a directory, which calls
 * `forget()`.
 */
import { lstatSync, mkdirSync, readlinkSync, unlinkSync, type Stats } from 'node:fs';
import { StackerError } from '../../core/errors.js';
import { LayerErrorCode } from './limits.js';
import { native } from './native.js';

const SLASH = 0x2f;
const MAX_LINKS = 255;
const SEP = Buffer.from('/');

/** Lexical clean of a tar name into components (containerd: filepath.Clean, then rooted). */
export function cleanComponents(name: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i < name.length && name[i] !== SLASH) continue;
    const c = name.subarray(start, i);
    start = i + 1;
    if (c.length === 0 || (c.length === 1 && c[0] === 0x2e)) continue;
    if (c.length === 2 && c[0] === 0x2e && c[1] === 0x2e) out.pop();
    else out.push(c);
  }
  return out;
}

/** Raw split on `/` (empty parts dropped, `.` and `..` kept for the resolver to apply). */
export function splitComponents(p: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= p.length; i++) {
    if (i < p.length && p[i] !== SLASH) continue;
    if (i > start) out.push(p.subarray(start, i));
    start = i + 1;
  }
  return out;
}

export function lstatOrUndefined(p: Buffer): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export function isWhiteoutDevice(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

export function conflict(msg: string): StackerError {
  return new StackerError(LayerErrorCode.conflict, msg);
}

export class RootResolver {
  readonly root: Buffer;
  /** Absolute paths (latin1 keys) known to be real directories inside the root. */
  private readonly dirs = new Set<string>();

  constructor(root: string) {
    this.root = Buffer.from(root.replace(/\/+$/, '') || '/');
  }

  join(parent: Buffer, name: Buffer): Buffer {
    return Buffer.concat([parent, SEP, name]);
  }

  /** Call after removing any directory under the root. */
  forget(): void {
    this.dirs.clear();
  }

  remember(absDir: Buffer): void {
    this.dirs.add(absDir.toString('latin1'));
  }

  /**
   * Resolves directory components to a real directory inside the root, expanding symlinks
   * inside the root. With `create`, missing directories are made (0755, owned by the caller) and
   * a whiteout device in the way becomes an opaque directory (the layer deletes, then recreates
   * it). Without `create`, a missing component yields undefined.
   */
  resolveDir(components: readonly Buffer[], create: boolean): Buffer | undefined {
    const queue = [...components];
    const cur: Buffer[] = [];
    let links = 0;
    while (queue.length > 0) {
      const c = queue.shift() as Buffer;
      if (c.length === 0 || (c.length === 1 && c[0] === 0x2e)) continue;
      if (c.length === 2 && c[0] === 0x2e && c[1] === 0x2e) {
        cur.pop();
        continue;
      }
      const abs = this.pathOf([...cur, c]);
      if (this.dirs.has(abs.toString('latin1'))) {
        cur.push(c);
        continue;
      }
      const st = lstatOrUndefined(abs);
      if (st?.isSymbolicLink()) {
        if (++links > MAX_LINKS) throw new StackerError(LayerErrorCode.unsafe, `too many levels of symbolic links under ${abs.toString('utf8')}`);
        const target = readlinkSync(abs, { encoding: 'buffer' });
        if (target[0] === SLASH) cur.length = 0;
        queue.unshift(...splitComponents(target)); // raw: its `..` climb from here, clamped above

        continue;
      }
      if (!this.ensureDir(abs, st, create)) return undefined;
      cur.push(c);
    }
    return this.pathOf(cur);
  }

  private ensureDir(abs: Buffer, st: Stats | undefined, create: boolean): boolean {
    if (st?.isDirectory()) {
      this.remember(abs);
      return true;
    }
    if (!create) return false;
    if (st && !isWhiteoutDevice(st)) throw conflict(`${abs.toString('utf8')} is not a directory but an entry needs it as one`);
    if (st) unlinkSync(abs);
    mkdirSync(abs, 0o755);
    if (st) native().lsetxattr(abs, 'user.overlay.opaque', Buffer.from('y'));
    this.remember(abs);
    return true;
  }

  private pathOf(parts: readonly Buffer[]): Buffer {
    if (parts.length === 0) return this.root;
    const list: Buffer[] = [this.root];
    for (const p of parts) list.push(SEP, p);
    return Buffer.concat(list);
  }

  /** True when every component of `abs` below the root is a real directory (no symlink). */
  isRealDir(abs: Buffer): boolean {
    if (!abs.subarray(0, this.root.length).equals(this.root)) return false;
    const rest = cleanComponents(abs.subarray(this.root.length));
    let p = this.root;
    for (const c of rest) {
      p = this.join(p, c);
      const st = lstatOrUndefined(p);
      if (!st?.isDirectory()) return false;
    }
    return true;
  }
}
