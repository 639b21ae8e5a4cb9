/**
 * Extended attributes as layers carry them (PAX `SCHILY.xattr.<name>`), and the overlayfs-private
 * ones that must never cross a layer boundary in either direction: `trusted.overlay.*` and
 * `user.overlay.*` (opaque, origin, impure, redirect, metacopy...). On packing they are stripped
 * (opaque is translated into `.wh..wh..opq`; redirect/metacopy make the upper dir unusable on
 * its own, so packing refuses them); on unpacking, the archive's copies are dropped with a
 * warning, since an overlay lower dir would otherwise obey attributes chosen by the archive.
 */
import { StackerError } from '../../core/errors.js';
import { LayerErrorCode } from './limits.js';
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

/** Upper-dir entries that only make sense together with a lower layer: packing them would lose data. */
const NOT_SELF_CONTAINED = /^(user|trusted)\.overlay\.(redirect|metacopy)$/;

function notSelfContained(path: PathLike, name: string): StackerError {
  return new StackerError(LayerErrorCode.unsupported, `${String(path)} carries ${name}: the overlay upper dir is not self-contained`, {
    hint: 'mount overlayfs with redirect_dir=off,metacopy=off (userxattr mounts never use them)',
  });
}

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
      if (NOT_SELF_CONTAINED.test(name)) throw notSelfContained(path, name);
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
