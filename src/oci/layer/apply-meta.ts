/**
 * Attribute application during extraction. Order matters: chown clears setuid/setgid and file
 * capabilities, so it comes first, then chmod, then xattrs. Path-based calls are only made on
 * paths the caller has just created or lstat'ed as non-symlinks inside a resolved real
 * directory; symlinks get only lchown/lutimes (no chmod exists for them on Linux).
 */
import { chmodSync, fchmodSync, fchownSync, lchownSync } from 'node:fs';
import { StackerError } from '../../core/errors.js';
import { LayerErrorCode } from './limits.js';
import { isNativeError, native } from './native.js';
import { isOverlayXattr } from './xattrs.js';

export type Warn = (msg: string) => void;

function ownerError(e: unknown, what: string, uid: number, gid: number): StackerError {
  return new StackerError(LayerErrorCode.owner, `cannot give ${what} owner ${uid}:${gid}: ${(e as Error).message}`, {
    cause: e,
    hint: 'the user namespace must map every uid/gid the layer uses; check /etc/subuid and /etc/subgid (65536 ids are the usual minimum)',
  });
}

export function setOwner(target: { fd: number } | { path: Buffer }, uid: number, gid: number, what: string): void {
  try {
    if ('fd' in target) fchownSync(target.fd, uid, gid);
    else lchownSync(target.path, uid, gid);
  } catch (e) {
    throw ownerError(e, what, uid, gid);
  }
}

export function setMode(target: { fd: number } | { path: Buffer }, mode: number): void {
  if ('fd' in target) fchmodSync(target.fd, mode & 0o7777);
  else chmodSync(target.path, mode & 0o7777);
}

/**
 * Sets archive xattrs on `path`. Overlay-private names are refused (an overlay lower dir would
 * obey them); failures on security.* / trusted.* (not permitted in a user namespace, or by the
 * filesystem) are warnings, others are errors.
 */
export function setXattrs(path: Buffer, xattrs: ReadonlyArray<readonly [string, Buffer]>, warn: Warn, what: string): void {
  for (const [name, value] of xattrs) {
    if (isOverlayXattr(name)) {
      warn(`${what}: ignoring overlay-private xattr ${name} from the archive`);
      continue;
    }
    try {
      native().lsetxattr(path, name, value);
    } catch (e) {
      const code = isNativeError(e) ? e.code : 'EUNKNOWN';
      if (name.startsWith('security.') || name.startsWith('trusted.')) {
        warn(`${what}: cannot set xattr ${name} (${code}); skipped`);
        continue;
      }
      throw new StackerError(LayerErrorCode.xattr, `${what}: cannot set xattr ${name}: ${(e as Error).message}`, { cause: e });
    }
  }
}
