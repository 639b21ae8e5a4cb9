/**
 * Process running for the end-to-end rig: spawn without a shell, capture both streams, and on
 * timeout kill the whole process group (the child leads its own group, so anything it started —
 * unshare, bwrap, a step's shell — goes with it).
 */
import { spawn } from 'node:child_process';

/** What a finished process left: exit code (null when killed by a signal) and its output. */
export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the rig killed the process because `timeoutMs` ran out. */
  timedOut: boolean;
}

export interface ExecOptions {
  cwd?: string;
  /** The whole environment of the child (not merged with the rig's own). */
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string | Buffer;
  /** Default 10 minutes. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const KILL_GRACE_MS = 3000;

/** Runs `cmd args` to completion. Never rejects for a non-zero exit; rejects only if it cannot start. */
export function exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout can kill every descendant
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const killGroup = (signal: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      graceTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    // If the test process dies first, take the child's group along.
    const onExit = (): void => killGroup('SIGKILL');
    process.once('exit', onExit);

    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (graceTimer !== undefined) clearTimeout(graceTimer);
      process.removeListener('exit', onExit);
      if (timedOut) killGroup('SIGKILL'); // stragglers that outlived the leader
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {
        // the child may exit without reading its input; that is its business
      });
      child.stdin.end(opts.input);
    }
  });
}

/** Like {@link exec}, but rejects with both streams in the message unless the exit code is 0. */
export async function execOk(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await exec(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited with ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''}\n` +
        `--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
    );
  }
  return r;
}
