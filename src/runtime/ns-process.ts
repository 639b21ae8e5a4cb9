/**
 * Starting processes inside new build namespaces (util-linux `unshare`): the builder, `grab`,
 * `chroot`, `clean`, and the fallbacks of a build from the caller's own process. Not in the
 * runtime barrel: node:child_process (~3-6 ms to load) loads only where a process is started so.
 */
import { spawn } from 'node:child_process';
import { StackerError } from '../core/index.js';
import { native } from '../oci/layer/native.js';
import { IN_NAMESPACE_ENV, requireSubids } from './userns.js';

/** A CLI process started inside the build namespaces: its exit code, and a pipe to it on fd 3. */
export interface NamespacedChild {
  exit: Promise<number>;
  /** Fd 3 of the child (only with `pipe: true`). */
  input: NodeJS.WritableStream | undefined;
}

/**
 * Runs this same CLI again inside a new user + mount namespace (an unprivileged caller) or a
 * new mount namespace (root). Node cannot unshare itself, so util-linux `unshare` does it;
 * `newuidmap` maps 0 to the caller and 1..65535 to its subordinate range. Mounts made inside
 * vanish with the namespace, so nothing is left mounted on the host whatever happens.
 * Signals are forwarded. With `pipe`, the child's fd 3 is a pipe from this process.
 */
export function startInNamespace(argv: string[], opts: { pipe?: boolean; env?: Record<string, string> } = {}): NamespacedChild {
  const [cmd, ...args] = namespaceCommand(argv);
  const child = spawn(cmd!, args, {
    stdio: opts.pipe ? ['inherit', 'inherit', 'inherit', 'pipe'] : 'inherit',
    env: { ...process.env, ...opts.env, [IN_NAMESPACE_ENV]: '1' },
  });
  const forward = (sig: NodeJS.Signals) => () => {
    child.kill(sig);
  };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  const input = opts.pipe ? (child.stdio[3] as NodeJS.WritableStream) : undefined;
  // A child that ends without reading its input must not fail this process (EPIPE).
  input?.on('error', () => {});
  const exit = new Promise<number>((resolve, reject) => {
    child.on('error', (e) => {
      for (const [s, h] of handlers) process.off(s, h);
      reject(cannotStart(e));
    });
    child.on('exit', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 128 + 15));
    });
  });
  return { exit, input };
}

/**
 * `unshare` running this CLI (`argv`) again inside a new user + mount namespace (an unprivileged
 * caller, whose subordinate ids it checks) or a new mount namespace (root).
 */
function namespaceCommand(argv: string[]): string[] {
  return [...namespacePrefix(), process.execPath, ...process.execArgv, ...argv];
}

/**
 * `unshare` and its arguments up to `--`: what runs after it runs in a new user + mount
 * namespace (an unprivileged caller, whose subordinate ids it checks) or a new mount namespace
 * (root), as the build's root.
 */
export function namespacePrefix(): string[] {
  const root = process.getuid?.() === 0;
  if (!root) requireSubids();
  const nsArgs = root
    ? ['--mount', '--propagation', 'private']
    : ['--user', '--map-root-user', '--map-auto', '--mount', '--propagation', 'private'];
  return ['unshare', ...nsArgs, '--'];
}

/**
 * Replaces this process with this CLI run inside the build namespaces (as startInNamespace),
 * keeping its pid: nothing is left waiting for the builder, and no fork of Node is paid. Only
 * what is open without close-on-exec (stdio, and fds made so on purpose) reaches the builder.
 * Returns only by throwing.
 */
export function execInNamespace(argv: string[], env: Record<string, string>): never {
  const [cmd, ...args] = namespaceCommand(argv);
  const merged = { ...process.env, ...env, [IN_NAMESPACE_ENV]: '1' };
  try {
    return native().execvpe(cmd!, [cmd!, ...args], Object.entries(merged).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])));
  } catch (e) {
    throw cannotStart(e as Error);
  }
}

export function cannotStart(e: Error): StackerError {
  return new StackerError('STACKER_E_NAMESPACE', `could not start unshare: ${e.message}`, {
    hint: 'install util-linux and uidmap (apt-get install uidmap); `stacker check` lists what is missing',
  });
}

/** startInNamespace, waiting for the child's exit code. */
export function reexecInNamespace(argv: string[]): Promise<number> {
  return startInNamespace(argv).exit;
}

/**
 * Runs `argv` in new build namespaces, as their root; resolves with its exit code and output.
 * It dies with this process (setpriv's parent-death signal, kept across unshare's exec) and is
 * killed when `signal` aborts: it never outlives the build that holds the lock.
 */
export function runInNamespace(argv: string[], signal?: AbortSignal): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', ...namespacePrefix(), ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...(signal !== undefined ? { signal, killSignal: 'SIGKILL' } : {}) });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      if (signal?.aborted === true) resolve({ code: 130, stdout, stderr });
      else reject(cannotStart(e));
    });
    child.on('close', (code, sig) => resolve({ code: code ?? (sig === 'SIGINT' ? 130 : 143), stdout, stderr }));
  });
}

