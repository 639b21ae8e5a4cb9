import { execa } from 'execa';
import { StackerError } from '../core/index.js';

export interface OverlayMount {
  /** Lower directories, top-most first, relative to `cwd` (kept short: the option string is limited to a page). */
  lowers: string[];
  upper?: string;
  work?: string;
  target: string;
  cwd: string;
  readonly?: boolean;
}

/** Mounts an overlay inside the build's mount namespace (userxattr: works unprivileged). */
export async function mountOverlay(m: OverlayMount): Promise<void> {
  const opts = [`lowerdir=${m.lowers.join(':')}`];
  if (m.upper !== undefined && m.work !== undefined) opts.push(`upperdir=${m.upper}`, `workdir=${m.work}`);
  opts.push('userxattr');
  if (m.readonly) opts.push('ro');
  const optString = opts.join(',');
  if (optString.length > 4000) {
    throw new StackerError('STACKER_E_TOO_MANY_LAYERS', `too many layers (${m.lowers.length}) for one overlay mount`, {
      hint: 'overlayfs takes at most one page of mount options; squash some layers',
    });
  }
  const r = await execa('mount', ['-t', 'overlay', 'overlay', '-o', optString, m.target], { cwd: m.cwd, reject: false });
  if (r.exitCode !== 0) {
    throw new StackerError('STACKER_E_MOUNT', `mounting the overlay at ${m.target} failed: ${String(r.stderr).trim()}`, {
      hint: 'run `stacker check`: overlayfs with userxattr needs Linux >= 5.11 and a roots dir not on overlayfs, NFS or tmpfs',
    });
  }
}

export async function unmount(target: string): Promise<void> {
  const r = await execa('umount', ['-l', target], { reject: false });
  if (r.exitCode !== 0 && !/not mounted|no mount point/i.test(String(r.stderr))) {
    throw new StackerError('STACKER_E_MOUNT', `unmounting ${target} failed: ${String(r.stderr).trim()}`);
  }
}
