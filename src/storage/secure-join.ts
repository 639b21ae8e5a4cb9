import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { StackerError } from '../core/index.js';

const MAX_LINKS = 255;

/**
 * Resolves `path` inside `root` as if `root` were `/` (chroot semantics): every symlink met on
 * the way is resolved against the root, `..` never climbs above it. Used when the host writes
 * into or reads from an image's rootfs (dest imports, stacker:// grabs), where an absolute
 * symlink such as `usr -> /` must not lead to the host's own files.
 * The last component is resolved too unless `followLast` is false.
 */
export function secureJoin(root: string, path: string, followLast = true): string {
  const todo = path.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '..') {
      done.pop();
      continue;
    }
    const candidate = posix.join(root, ...done, c);
    let st;
    try {
      st = lstatSync(candidate);
    } catch {
      done.push(c);
      continue;
    }
    if (st.isSymbolicLink() && (followLast || todo.length > 0)) {
      if (++links > MAX_LINKS) {
        throw new StackerError('STACKER_E_SYMLINK_LOOP', `too many levels of symbolic links resolving ${path}`);
      }
      const target = readlinkSync(candidate);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
      continue;
    }
    done.push(c);
  }
  return posix.join(root, ...done);
}
