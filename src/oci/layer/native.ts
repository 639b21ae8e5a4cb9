/**
 * Typed loader for the tiny N-API addon in `native/stacker_native.c` (built by `binding.gyp` at
 * the package root into `build/Release/stacker_native.node`). Node has no xattr or mknod API;
 * layer packing needs to read xattrs of an overlay upper dir and unpacking needs to create
 * whiteout devices (char 0/0) and set `user.overlay.opaque`.
 *
 * Loaded lazily on first use so commands that never touch layers do not pay for it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StackerError } from '../../core/errors.js';

/** A path as a string (UTF-8) or as raw bytes (file names need not be UTF-8). */
export type PathLike = string | Buffer;

/** Errors thrown by the addon carry the errno name, like Node's fs errors. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export interface StackerNative {
  /** Attribute names of `path` (not following a final symlink). */
  llistxattr(path: PathLike): string[];
  /** The value, or null when the attribute does not exist (ENODATA). */
  lgetxattr(path: PathLike, name: string): Buffer | null;
  lsetxattr(path: PathLike, name: string, value: Buffer): void;
  lremovexattr(path: PathLike, name: string): void;
  /** `mode` includes the type bits (S_IFCHR, S_IFBLK, S_IFIFO). Fails with EEXIST if path exists. */
  mknod(path: PathLike, mode: number, major: number, minor: number): void;
  /** mount(2); `flags` are MS_* bits. Needs CAP_SYS_ADMIN over the mount namespace. */
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  /** umount2(2); `flags` are MNT_* bits. */
  umount2(target: string, flags: number): void;
  /** An anonymous memory file holding `data`, at offset 0, left open across execve. */
  memfdWith(data: Buffer): number;
  /** execvpe(3): replaces this process (PATH searched for `file`); returns only by throwing. */
  execvpe(file: string, argv: string[], env: string[]): never;
  /**
   * posix_spawn of `file` (PATH searched): stdin /dev/null, stdout and stderr on pipes, fd 3 on a
   * socket pair. Returns [pid, stdout fd, stderr fd, fd-3 socket] (this process's ends). The
   * child is not libuv's: reap it with waitpid.
   */
  spawnPiped(file: string, argv: string[], env: string[]): [number, number, number, number];
  /** waitpid(pid, WNOHANG): null while it runs, else [exit code or -1, signal number or -1]. */
  waitpid(pid: number): [number, number] | null;
}

const ADDON = join('build', 'Release', 'stacker_native.node');
let loaded: StackerNative | undefined;

/** The package root is 3 (src/oci/layer) or 4 (dist/src/oci/layer) levels up; search upward. */
function findBuilt(rel: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, rel);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new StackerError('STACKER_E_NATIVE_MISSING', `${rel} not found`, {
    hint: 'build it with `npm rebuild` (or `npm ci`) in the stacker package; it needs gcc, make and python3',
  });
}

export function native(): StackerNative {
  if (loaded) return loaded;
  loaded = createRequire(import.meta.url)(findBuilt(ADDON)) as StackerNative;
  return loaded;
}

let nsrun: string | undefined;

/** The path of `stacker-nsrun` (native/stacker_nsrun.c), built next to the addon. */
export function nsrunPath(): string {
  nsrun ??= findBuilt(join('build', 'Release', 'stacker-nsrun'));
  return nsrun;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).code === 'string';
}
