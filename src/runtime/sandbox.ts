import { accessSync, constants, existsSync } from 'node:fs';
import { StackerError } from '../core/errors.js';

export { DEFAULT_PATH } from './default-path.js';

export interface Mount { source: string; dest: string }

/** What one sandboxed process needs: a prepared rootfs and what to mount into it. */
export interface SandboxSpec {
  rootfs: string;
  argv: string[];
  env: Record<string, string>;
  /** Read-only binds (imports), applied after /stacker is made a tmpfs. */
  roBinds: Mount[];
  /** Read-write binds (the layer's `binds`). */
  binds: Mount[];
  /** Directories that get an empty tmpfs, then read-only (e.g. /stacker). */
  roTmpfs: string[];
  /** Symlinks made in those tmpfs (an import that is itself a symlink: a bind would follow it). */
  symlinks?: { target: string; dest: string }[];
  hostname?: string;
  cwd?: string;
  /** Attach the terminal (for --shell-fail and chroot): no new session, stdin inherited. */
  interactive?: boolean;
}

/**
 * bwrap arguments for the run environment of stacker's talk: host network, /proc with
 * /proc/sys read-only, a minimal /dev, /sys read-only, the host's resolv.conf read-only,
 * new pid/ipc/uts namespaces, a clean environment. Pure, so it is unit-tested.
 */
export function bwrapArgs(spec: SandboxSpec, hostResolvConf = existsSync('/etc/resolv.conf')): string[] {
  const a: string[] = ['--bind', spec.rootfs, '/', '--proc', '/proc', '--ro-bind', '/proc/sys', '/proc/sys',
    '--dev', '/dev', '--ro-bind', '/sys', '/sys'];
  if (hostResolvConf) a.push('--ro-bind', '/etc/resolv.conf', '/etc/resolv.conf');
  for (const d of spec.roTmpfs) a.push('--tmpfs', d);
  for (const m of spec.roBinds) a.push('--ro-bind', m.source, m.dest);
  for (const l of spec.symlinks ?? []) a.push('--symlink', l.target, l.dest);
  for (const d of spec.roTmpfs) a.push('--remount-ro', d);
  for (const m of spec.binds) a.push('--bind', m.source, m.dest);
  a.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', spec.hostname ?? 'stacker', '--die-with-parent');
  if (!spec.interactive) a.push('--new-session');
  a.push('--clearenv');
  for (const k of Object.keys(spec.env).sort()) a.push('--setenv', k, spec.env[k]!);
  a.push('--chdir', spec.cwd ?? '/', '--', ...spec.argv);
  return a;
}

export interface RunOutcome { exitCode: number; signal?: string }

let bwrap: string | undefined;

/** bubblewrap's path: the first in PATH, then /usr/bin and /bin. */
export function bwrapPath(): string {
  if (bwrap !== undefined) return bwrap;
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/bin']) {
    if (!dir.startsWith('/')) continue;
    const p = `${dir}/bwrap`;
    try {
      accessSync(p, constants.X_OK);
      return (bwrap = p);
    } catch { /* next */ }
  }
  throw new StackerError('STACKER_E_NAMESPACE', 'bubblewrap (bwrap) is not installed', { hint: 'apt-get install bubblewrap; `stacker check` lists what is missing' });
}

/** Runs a sandboxed process, streaming its output; aborting kills it (and bwrap kills the tree). */
export async function runSandbox(
  spec: SandboxSpec,
  opts: { onOutput?: (stream: 'stdout' | 'stderr', chunk: string) => void; signal?: AbortSignal } = {},
): Promise<RunOutcome> {
  // Loaded on use: a build that runs its steps from outside the namespace never needs it.
  const { execa } = await import('execa');
  // umask 022 for the run, whatever the caller's (stacker-nsrun does the same): a layer's modes
  // must not depend on who built it.
  const child = execa('/bin/sh', ['-c', 'umask 022 && exec "$0" "$@"', bwrapPath(), ...bwrapArgs(spec)], {
    stdin: spec.interactive ? 'inherit' : 'ignore',
    stdout: spec.interactive ? 'inherit' : 'pipe',
    stderr: spec.interactive ? 'inherit' : 'pipe',
    buffer: false,
    reject: false,
    extendEnv: false,
    env: {},
    cancelSignal: opts.signal,
    forceKillAfterDelay: 2000,
  });
  if (!spec.interactive) {
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (c: string) => opts.onOutput?.('stdout', c));
    child.stderr?.on('data', (c: string) => opts.onOutput?.('stderr', c));
  }
  const r = await child;
  return { exitCode: r.exitCode ?? 128, ...(r.signal ? { signal: r.signal } : {}) };
}
