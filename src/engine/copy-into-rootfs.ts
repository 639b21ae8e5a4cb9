import { chmodSync, copyFileSync, lchownSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { secureJoin } from '../storage/index.js';

export interface Ownership { mode?: number; uid?: number; gid?: number }

/**
 * Copies a host file or tree to `destPath` inside a rootfs, resolving every target path inside
 * the rootfs (an image's `usr -> /` symlink cannot lead the copy to the host's files).
 * Symlinks are copied as symlinks; sockets, fifos and device nodes are skipped. `mode` applies
 * to files, `uid`/`gid` to everything copied. A directory that already exists at `destPath`
 * (say `/` or `/usr/bin`) receives the source's entries but keeps its own mode and owner; a
 * file replaces whatever is at `destPath` (a file `f` with `dest: /usr/bin` becomes `/usr/bin`,
 * as in stacker). Returns the number of entries skipped.
 */
export function copyIntoRootfs(src: string, rootfs: string, destPath: string, own: Ownership): number {
  const st = lstatSync(src);
  if (st.isDirectory()) {
    const created = ensureDir(rootfs, destPath, st.mode & 0o7777);
    if (created) applyOwner(secureJoin(rootfs, destPath), own);
    let skipped = 0;
    for (const name of readdirSync(src).sort()) {
      skipped += copyIntoRootfs(join(src, name), rootfs, posix.join(destPath, name), own);
    }
    return skipped;
  }
  if (!st.isFile() && !st.isSymbolicLink()) return 1;
  ensureDir(rootfs, posix.dirname(destPath), 0o755);
  const resolved = secureJoin(rootfs, destPath, false);
  if (resolved === rootfs) throw new Error(`bug: copying a file onto the root of ${rootfs}`);
  rmSync(resolved, { force: true, recursive: true });
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), resolved);
  } else {
    copyFileSync(src, resolved);
    chmodSync(resolved, own.mode ?? st.mode & 0o7777);
  }
  applyOwner(resolved, own);
  return 0;
}

/**
 * Makes every component of `path` a directory inside the rootfs (the last one with `mode`, the
 * others 0755), replacing non-directories. Returns whether the last component was created.
 */
function ensureDir(rootfs: string, path: string, mode: number): boolean {
  const parts = path.split('/').filter(Boolean);
  let created = false;
  for (let i = 1; i <= parts.length; i++) {
    const p = secureJoin(rootfs, '/' + parts.slice(0, i).join('/'));
    const want = i === parts.length ? mode : 0o755;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      // `p` is already resolved inside the rootfs; missing parents (e.g. a symlink's absent
      // target directory) are created there too.
      mkdirSync(p, { recursive: true });
      chmodSync(p, want);
      created = i === parts.length;
      continue;
    }
    if (!st.isDirectory()) {
      rmSync(p, { force: true });
      mkdirSync(p);
      chmodSync(p, want);
      created = i === parts.length;
    }
  }
  return created;
}

/** `mode` applies to copied files only (directories keep theirs), as in stacker. */
function applyOwner(p: string, own: Ownership): void {
  if (own.uid === undefined && own.gid === undefined) return;
  const st = lstatSync(p);
  lchownSync(p, own.uid ?? st.uid, own.gid ?? st.gid);
}

/**
 * Where a `dest` import lands (STACKER_REFERENCE §1.4.4): returns the rootfs path the source
 * itself is copied to (for a directory: the directory whose contents are the source's contents).
 */
export function placeDestImport(opts: { sourceIsDir: boolean; path: string; dest: string; basename: string }): string {
  const destDirForm = opts.dest.endsWith('/');
  if (!opts.sourceIsDir) return destDirForm ? posix.join(opts.dest, opts.basename) : opts.dest;
  const contentsForm = opts.path.endsWith('/');
  if (contentsForm || !destDirForm) return opts.dest.replace(/\/+$/, '') || '/';
  return posix.join(opts.dest, opts.basename);
}
