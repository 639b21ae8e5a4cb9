/**
 * The unprivileged user that end-to-end tests run stacker as. Tests and CI run as root; the build
 * path must be exercised as an ordinary user with a subuid/subgid range, so the rig makes one.
 * When the tests themselves run as an ordinary user, that user is used as it is.
 */
import { appendFile, mkdir, readFile, rmdir, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { exec, execOk } from './rig-exec.js';

export const E2E_USER = 'stacker-e2e';
export const SUBID_COUNT = 65536;

/** Who the rig runs things as. `viaRunuser` is false when the tests do not run as root. */
export interface RigUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  viaRunuser: boolean;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** One line of /etc/subuid or /etc/subgid. */
export interface SubIdRange {
  owner: string;
  start: number;
  count: number;
}

export function parseSubIds(text: string): SubIdRange[] {
  const out: SubIdRange[] = [];
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if (owner === undefined || start === undefined || count === undefined) continue;
    const s = Number(start);
    const c = Number(count);
    if (owner !== '' && Number.isInteger(s) && Number.isInteger(c)) out.push({ owner, start: s, count: c });
  }
  return out;
}

/** The range of `user` (by name or uid) in a subid file's text with at least `min` ids, if any. */
export function findSubIdRange(text: string, user: string, uid: number, min = SUBID_COUNT): SubIdRange | undefined {
  return parseSubIds(text).find((r) => (r.owner === user || r.owner === String(uid)) && r.count >= min);
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/** A mkdir lock between test processes that set up the same machine-wide things at once. */
export async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10 * 60 * 1000;
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A holder that died leaves the directory behind: consider it stale after 15 minutes.
      const st = await stat(lockDir).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 15 * 60 * 1000) await rmdir(lockDir).catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`rig: timed out waiting for lock ${lockDir}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rmdir(lockDir).catch(() => undefined);
  }
}

async function lookupUser(name: string): Promise<Omit<RigUser, 'viaRunuser'> | undefined> {
  const r = await exec('getent', ['passwd', name]);
  if (r.code !== 0) return undefined;
  const f = r.stdout.trim().split(':');
  return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? `/home/${name}` };
}

/** Appends `<user>:<start>:65536` to a subid file unless the user already has such a range. */
async function ensureSubIds(user: { name: string; uid: number }): Promise<void> {
  const files = ['/etc/subuid', '/etc/subgid'];
  const texts = await Promise.all(files.map(readOrEmpty));
  // One start that is free in both files: above every range there, on a 65536 boundary.
  let top = 100000;
  for (const t of texts) for (const r of parseSubIds(t)) top = Math.max(top, r.start + r.count);
  const start = Math.ceil(top / SUBID_COUNT) * SUBID_COUNT;
  for (const [i, file] of files.entries()) {
    const text = texts[i] ?? '';
    if (findSubIdRange(text, user.name, user.uid)) continue;
    const sep = text === '' || text.endsWith('\n') ? '' : '\n';
    await appendFile(file, `${sep}${user.name}:${start}:${SUBID_COUNT}\n`, { mode: 0o644 });
  }
}

/**
 * Makes sure the test user exists with a home and a subuid/subgid range of 65536 ids.
 * As root: `useradd -m` if needed and subid lines appended if missing. Otherwise: the current user.
 */
export async function ensureUser(lockDir: string): Promise<RigUser> {
  if (!isRoot()) {
    const me = userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid, home: me.homedir, viaRunuser: false };
  }
  return withLock(lockDir, async () => {
    let u = await lookupUser(E2E_USER);
    if (!u) {
      await execOk('useradd', ['-m', '-U', '-s', '/bin/sh', '-c', 'stacker end-to-end tests', E2E_USER]);
      u = await lookupUser(E2E_USER);
      if (!u) throw new Error(`rig: useradd ${E2E_USER} succeeded but getent does not find the user`);
    }
    await ensureSubIds(u);
    return { ...u, viaRunuser: true };
  });
}

/** argv that runs `cmd args` as the rig user with exactly `env` (root: runuser; else: env -i). */
export function userArgv(user: RigUser, env: Record<string, string>, cmd: string, args: readonly string[]): string[] {
  const envArgs = ['env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), cmd, ...args];
  return user.viaRunuser ? ['runuser', '-u', user.name, '--', ...envArgs] : envArgs;
}

/** Whether the rig user can read `path` (which includes searching every parent directory). */
export async function userCanRead(user: RigUser, path: string): Promise<boolean> {
  const argv = userArgv(user, { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, 'test', ['-r', path]);
  const r = await exec(argv[0] as string, argv.slice(1));
  return r.code === 0;
}

/** Whether the rig user can execute `path`. */
export async function userCanExecute(user: RigUser, path: string): Promise<boolean> {
  const argv = userArgv(user, { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, 'test', ['-x', path]);
  const r = await exec(argv[0] as string, argv.slice(1));
  return r.code === 0;
}
