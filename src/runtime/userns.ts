import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { StackerError } from '../core/index.js';
import { native } from '../oci/layer/native.js';

/** Set in the environment of the process re-executed inside the build namespaces. */
export const IN_NAMESPACE_ENV = 'STACKER_IN_NAMESPACE';

export function inBuildNamespace(): boolean {
  return process.env[IN_NAMESPACE_ENV] === '1';
}

export interface SubidRange { start: number; count: number }

/** Finds the caller's first range in /etc/subuid or /etc/subgid (by name or numeric id). */
export function findSubidRange(file: string, user: string, id: number): SubidRange | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if (who === undefined || start === undefined || count === undefined) continue;
    if (who !== user && who !== String(id)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && c > 0) return { start: s, count: c };
  }
  return undefined;
}

/** Checks that an unprivileged caller can map a range; returns them, or throws the error a user can act on. */
export function requireSubids(): { uid: SubidRange; gid: SubidRange } {
  const me = userInfo();
  const ranges: SubidRange[] = [];
  for (const [file, id] of [['/etc/subuid', me.uid], ['/etc/subgid', me.gid]] as const) {
    const r = findSubidRange(file, me.username, id);
    if (r === undefined) {
      throw new StackerError('STACKER_E_NO_SUBID', `no subordinate id range for user ${me.username} in ${file}`, {
        hint: `run as root: \`stacker unpriv-setup --username ${me.username}\` (or \`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${me.username}\`)`,
      });
    }
    if (r.count < 65535) {
      throw new StackerError('STACKER_E_SUBID_RANGE', `the range for ${me.username} in ${file} has ${r.count} ids; 65536 are needed`, {
        hint: 'images use uids 0-65535; give the user a range of 65536 ids',
      });
    }
    ranges.push(r);
  }
  return { uid: ranges[0]!, gid: ranges[1]! };
}

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
 * How ids read outside a namespace (stat of files its root made) translate to the ids inside it:
 * the inverse of its uid_map and gid_map. Undefined for an id the namespace does not map.
 */
export interface IdMap { uid(outer: number): number | undefined; gid(outer: number): number | undefined }

/** Parses /proc/<pid>/{uid,gid}_map text ("inside outside count" lines). Pure. */
export function parseIdMap(text: string): (outer: number) => number | undefined {
  const ranges = text.split('\n').map((l) => l.trim().split(/\s+/).map(Number)).filter((r) => r.length === 3 && r.every(Number.isInteger));
  return (outer) => {
    for (const [inside, outside, count] of ranges) if (outer >= outside! && outer - outside! < count!) return inside! + (outer - outside!);
    return undefined;
  };
}

/** The id map of the namespace process `pid` is in. */
export function idMapOf(pid: number): IdMap {
  return { uid: parseIdMap(readFileSync(`/proc/${pid}/uid_map`, 'utf8')), gid: parseIdMap(readFileSync(`/proc/${pid}/gid_map`, 'utf8')) };
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

/**
 * stacker-nsrun's arguments: the uid and gid maps of a new user namespace, as `unshare
 * --map-root-user --map-auto` makes them (0 to the caller, 1.. to its subordinate range), in
 * newuidmap/newgidmap's form. None for root (its builds use no user namespace).
 */
export function idMapArgs(): string[] {
  if (process.getuid?.() === 0) return [];
  const ranges = requireSubids();
  const map = (self: number, r: SubidRange): string => `0 ${self} 1 1 ${r.start} ${r.count - 1}`;
  return [map(process.getuid?.() ?? userInfo().uid, ranges.uid), map(process.getgid?.() ?? userInfo().gid, ranges.gid)];
}
