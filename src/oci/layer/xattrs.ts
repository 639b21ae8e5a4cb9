/**
 * Extended attributes as layers carry them (PAX `SCHILY.xattr.<name>`), and the overlayfs-private
 * ones that must never cross a layer boundary in either direction: `trusted.overlay.*` and
 * `user.overlay.*` (opaque, origin, impure, redirect, metacopy...). On packing they are stripped
 * (opaque is translated into `.wh..wh..opq`); on unpacking, an archive that carries them is
 * refused them, since an overlay lower dir would otherwise obey attributes chosen by the archive.
 */
import { native, type PathLike } from './native.js';

export const OPAQUE_XATTRS = ['user.overlay.opaque', 'trusted.overlay.opaque'] as const;

export function isOverlayXattr(name: string): boolean {
  return name.startsWith('user.overlay.') || name.startsWith('trusted.overlay.');
}

export interface FileXattrs {
  /** Kept attributes, sorted by name (bytewise). */
  kept: [string, Buffer][];
  /** The directory is an opaque overlay directory. */
  opaque: boolean;
}

const NONE: FileXattrs = { kept: [], opaque: false };

function compareNames(a: [string, Buffer], b: [string, Buffer]): number {
  return Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0]));
}

/** Reads the xattrs of `path` (not following a final symlink) for packing. */
export function readXattrs(path: PathLike): FileXattrs {
  const n = native();
  const names = n.llistxattr(path);
  if (names.length === 0) return NONE;
  const kept: [string, Buffer][] = [];
  let opaque = false;
  for (const name of names) {
    if (isOverlayXattr(name)) {
      if ((OPAQUE_XATTRS as readonly string[]).includes(name)) {
        const v = n.lgetxattr(path, name);
        if (v !== null && v.length === 1 && v[0] === 0x79 /* 'y' */) opaque = true;
      }
      continue;
    }
    const value = n.lgetxattr(path, name);
    if (value !== null) kept.push([name, value]);
  }
  kept.sort(compareNames);
  return { kept, opaque };
}
