import { resolve } from 'node:path';
import { StackerError } from '../core/index.js';
import { isNativeError, native } from '../oci/layer/native.js';

export interface OverlayMount {
  /** Lower directories, top-most first, relative to `cwd` (kept short: the option string is limited to a page). */
  lowers: string[];
  upper?: string;
  work?: string;
  target: string;
  cwd: string;
  readonly?: boolean;
}

/** The overlay's option string, each directory written by `path`. */
function overlayOptions(m: OverlayMount, path: (p: string) => string): string {
  const opts = [`lowerdir=${m.lowers.map(path).join(':')}`];
  if (m.upper !== undefined && m.work !== undefined) opts.push(`upperdir=${path(m.upper)}`, `workdir=${path(m.work)}`);
  opts.push('userxattr');
  if (m.readonly) opts.push('ro');
  return opts.join(',');
}

/**
 * How to mount `m`: mount(2) resolves relative directories against the process's cwd, which we
 * do not change, so the syscall gets absolute ones; they usually still fit in the page the
 * options are limited to, and no process is started. Otherwise (or if the roots dir's path holds
 * an option separator) `mount` runs in the roots dir, where the relative paths are short. Pure.
 */
export function overlayMountPlan(m: OverlayMount): { via: 'syscall'; target: string; options: string } | { via: 'mount'; options: string } {
  const relative = overlayOptions(m, (p) => p);
  if (relative.length > MAX_OPTIONS) {
    throw new StackerError('STACKER_E_TOO_MANY_LAYERS', `too many layers (${m.lowers.length}) for one overlay mount`, {
      hint: 'overlayfs takes at most one page of mount options; squash some layers',
    });
  }
  const root = resolve(m.cwd);
  const absolute = overlayOptions(m, (p) => resolve(root, p));
  if (absolute.length <= MAX_OPTIONS && !/[,:\\]/.test(root)) return { via: 'syscall', target: resolve(root, m.target), options: absolute };
  return { via: 'mount', options: relative };
}

const MAX_OPTIONS = 4000;

/**
 * The option string with directories relative to the roots dir (`m.cwd`), for `mount` run
 * there; throws when it exceeds the page mount options are limited to.
 */
export function relativeOverlayOptions(m: OverlayMount): string {
  const plan = overlayMountPlan(m);
  return plan.via === 'mount' ? plan.options : overlayOptions(m, (p) => p);
}

/** Mounts an overlay inside the build's mount namespace (userxattr: works unprivileged). */
export async function mountOverlay(m: OverlayMount): Promise<void> {
  const failed = (why: string): StackerError => new StackerError('STACKER_E_MOUNT', `mounting the overlay at ${m.target} failed: ${why}`, {
    hint: 'run `stacker check`: overlayfs with userxattr needs Linux >= 5.11 and a roots dir not on overlayfs, NFS or tmpfs',
  });
  const plan = overlayMountPlan(m);
  if (plan.via === 'syscall') {
    try {
      native().mount('overlay', plan.target, 'overlay', m.readonly ? MS_RDONLY : 0, plan.options);
      return;
    } catch (e) {
      throw failed((e as Error).message);
    }
  }
  // Loaded on use: a build that runs its steps from outside the namespace never needs it.
  const { execa } = await import('execa');
  const r = await execa('mount', ['-t', 'overlay', 'overlay', '-o', plan.options, m.target], { cwd: m.cwd, reject: false });
  if (r.exitCode !== 0) throw failed(String(r.stderr).trim());
}

const MS_RDONLY = 1;
const MNT_DETACH = 2;

/** Detaches a mount (lazily, like `umount -l`); a target that is not mounted is fine. */
export async function unmount(target: string): Promise<void> {
  try {
    native().umount2(target, MNT_DETACH);
  } catch (e) {
    if (isNativeError(e) && (e.code === 'EINVAL' || e.code === 'ENOENT')) return;
    throw new StackerError('STACKER_E_MOUNT', `unmounting ${target} failed: ${(e as Error).message}`);
  }
}
