import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StackerError } from '../core/index.js';

export interface LockHolder { pid: number; cmd: string }

export function readHolder(file: string): LockHolder | undefined {
  try {
    const [pid, ...cmd] = readFileSync(file, 'utf8').split('\n');
    return { pid: Number(pid), cmd: cmd.join(' ').trim() };
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive lock on a stacker dir: a file created with O_EXCL holding the owner's pid and
 * command line. A lock whose owner is dead is stale and taken over. A live owner is waited for
 * (`onWait` is told who holds it) unless `wait` is false.
 */
export async function acquireLock(
  dir: string,
  opts: { wait: boolean; onWait?: (h: LockHolder) => void; pollMs?: number } = { wait: true },
): Promise<() => void> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, '.lock');
  let told = false;
  for (;;) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n${process.argv.slice(1).join(' ')}\n`);
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readHolder(file);
    if (holder === undefined || !Number.isInteger(holder.pid) || !processAlive(holder.pid)) {
      rmSync(file, { force: true });
      continue;
    }
    if (!opts.wait) {
      throw new StackerError('STACKER_E_LOCKED', `couldn't acquire lock on ${file}: lock owned by pid ${holder.pid} (${holder.cmd})`, {
        hint: 'another stacker is using these directories; wait for it or use another --stacker-dir/--roots-dir',
      });
    }
    if (!told) {
      opts.onWait?.(holder);
      told = true;
    }
    await sleep(opts.pollMs ?? 200);
  }
}

/**
 * The release of a lock this process holds without having taken it: the planner took it and then
 * became this process (execve keeps the pid, which the lock file names).
 */
export function adoptLock(dir: string): () => void {
  const file = join(dir, '.lock');
  return () => {
    if (readHolder(file)?.pid === process.pid) rmSync(file, { force: true });
  };
}
