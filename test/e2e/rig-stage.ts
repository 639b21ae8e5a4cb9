/**
 * Staging of what the unprivileged test user runs. CI's clone may sit under a directory only root
 * can enter (say /root/...), or be checked out with a umask that leaves files unreadable to
 * others; then the user cannot load `bin/stacker.js`, `dist/` or `node_modules/`. In that case
 * the runtime part of the repo is copied to a world-readable directory under /var/tmp, named
 * after the repo path and a fingerprint of the copied files, and reused while it is up to date.
 */
import { createHash } from 'node:crypto';
import { access, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { exec, execOk } from './rig-exec.js';
import { userCanRead, withLock, type RigUser } from './rig-user.js';

/** What the stacker CLI needs at run time, relative to the repo root (missing ones are skipped). */
export const STAGE_ENTRIES = ['package.json', 'bin', 'dist', 'node_modules', 'build', 'cache', 'prebuilds'];

export interface Staged {
  /** The directory the user runs stacker from: the repo itself, or its staged copy. */
  root: string;
  /** `<root>/bin/stacker.js`. */
  stackerBin: string;
  /** True when `root` is a copy. */
  staged: boolean;
}

const COMPLETE = '.stacker-e2e-complete';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function presentEntries(repoDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of STAGE_ENTRIES) if (await exists(join(repoDir, e))) out.push(e);
  return out;
}

/** The first entry under `entries` that others cannot read (or search, for directories), if any. */
export async function firstNotWorldReadable(repoDir: string, entries: readonly string[]): Promise<string | undefined> {
  if (entries.length === 0) return undefined;
  const r = await execOk(
    'find',
    [...entries, '(', '-type', 'd', '!', '-perm', '-005', ')', '-o', '(', '!', '-type', 'd', '!', '-type', 'l', '!', '-perm', '-004', ')', '-print', '-quit'],
    { cwd: repoDir },
  );
  const first = r.stdout.split('\n')[0];
  return first === undefined || first === '' ? undefined : first;
}

/** A digest of names, types, sizes, mtimes and modes of every file under `entries`. */
async function fingerprint(repoDir: string, entries: readonly string[]): Promise<string> {
  const r = await execOk('find', [...entries, '-printf', '%p\t%y\t%s\t%T@\t%m\n'], { cwd: repoDir });
  const lines = r.stdout.split('\n').sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/**
 * Returns where the rig user can run stacker from: the repo itself when the user can read all of
 * it, else a staged, world-readable copy under `stageBase` (made once, reused while up to date).
 */
export async function stageForUser(user: RigUser, repoDir: string, stageBase = '/var/tmp'): Promise<Staged> {
  const entries = await presentEntries(repoDir);
  const direct: Staged = { root: repoDir, stackerBin: join(repoDir, 'bin', 'stacker.js'), staged: false };
  if (!user.viaRunuser) return direct;
  const readable =
    (await userCanRead(user, join(repoDir, 'package.json'))) &&
    (await firstNotWorldReadable(repoDir, entries)) === undefined;
  if (readable) return direct;

  const repoKey = createHash('sha256').update(repoDir).digest('hex').slice(0, 8);
  const prefix = `stacker-e2e-stage-${repoKey}-`;
  const name = prefix + (await fingerprint(repoDir, entries)).slice(0, 12);
  const root = join(stageBase, name);
  const result: Staged = { root, stackerBin: join(root, 'bin', 'stacker.js'), staged: true };
  if (await exists(join(root, COMPLETE))) return result;

  await withLock(join(stageBase, `${prefix}lock`), async () => {
    if (await exists(join(root, COMPLETE))) return;
    await rm(root, { recursive: true, force: true });
    const tmp = `${root}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await execOk('mkdir', ['-p', '-m', '0755', tmp]);
    await execOk('cp', ['-a', '--', ...entries, tmp], { cwd: repoDir });
    await execOk('chmod', ['-R', 'a+rX', tmp]);
    await writeFile(join(tmp, COMPLETE), `${repoDir}\n`, { mode: 0o644 });
    await rename(tmp, root);
    // Older copies of the same repo are stale now.
    for (const other of await readdir(stageBase)) {
      if (other.startsWith(prefix) && other !== name && !other.endsWith('lock')) {
        await rm(join(stageBase, other), { recursive: true, force: true });
      }
    }
  });
  if (!(await userCanRead(user, result.stackerBin)) && (await exists(join(repoDir, 'bin', 'stacker.js')))) {
    throw new Error(`rig: staged ${basename(root)} under ${dirname(root)}, but ${user.name} still cannot read it`);
  }
  return result;
}

/** Removes every staged copy of `repoDir` (not needed between runs; for a clean slate). */
export async function removeStaged(repoDir: string, stageBase = '/var/tmp'): Promise<void> {
  const repoKey = createHash('sha256').update(repoDir).digest('hex').slice(0, 8);
  for (const other of await readdir(stageBase)) {
    if (other.startsWith(`stacker-e2e-stage-${repoKey}-`)) await rm(join(stageBase, other), { recursive: true, force: true });
  }
}

/** Resolves the node binary the user should run: this one if the user may execute it, else `node` on PATH. */
export async function nodeForUser(user: RigUser): Promise<string> {
  if (!user.viaRunuser) return process.execPath;
  const r = await exec('runuser', ['-u', user.name, '--', 'test', '-x', process.execPath]);
  return r.code === 0 ? process.execPath : 'node';
}
