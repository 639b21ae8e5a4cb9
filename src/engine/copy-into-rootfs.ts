import { chmodSync, copyFileSync, lchownSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { secureJoin } from '../storage/index.js';

export interface Ownership { mode?: number; uid?: number; gid?: number }

/**
 * Copies a host file or tree to `destPath` inside a rootfs, resolving every target path inside
 * the rootfs (an image's `usr -> /` symlink cannot lead the copy to the host's files).
 * Symlinks are copied as symlinks; `mode` applies to files, `uid`/`gid` to everything copied.
 */
export function copyIntoRootfs(src: string, rootfs: string, destPath: string, own: Ownership): void {
  const st = lstatSync(src);
  const target = secureJoin(rootfs, destPath, false);
  if (st.isDirectory()) {
    ensureDir(rootfs, destPath, st.mode & 0o7777);
    applyOwner(target, own);
    for (const name of readdirSync(src).sort()) {
      copyIntoRootfs(join(src, name), rootfs, posix.join(destPath, name), own);
    }
    return;
  }
  ensureDir(rootfs, posix.dirname(destPath), 0o755);
  const resolved = secureJoin(rootfs, destPath, false);
  rmSync(resolved, { force: true, recursive: false });
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), resolved);
  } else {
    copyFileSync(src, resolved);
    chmodSync(resolved, own.mode ?? st.mode & 0o7777);
  }
  applyOwner(resolved, own);
}

function ensureDir(rootfs: string, path: string, mode: number): void {
  const parts = path.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const p = secureJoin(rootfs, '/' + parts.slice(0, i).join('/'));
    let st;
    try {
      st = lstatSync(p);
    } catch {
      // `p` is already resolved inside the rootfs; missing parents (e.g. a symlink's absent
      // target directory) are created there too.
      mkdirSync(p, { recursive: true, mode: i === parts.length ? mode : 0o755 });
      continue;
    }
    if (!st.isDirectory()) {
      rmSync(p, { force: true });
      mkdirSync(p, { mode: 0o755 });
    }
  }
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
