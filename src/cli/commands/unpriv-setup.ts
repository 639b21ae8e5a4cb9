import { appendFileSync, chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { StackerError } from '../../core/index.js';
import { bool, parse, str } from '../args.js';
import { pathsFrom } from './common.js';

const COUNT = 65536;
const SUBID_FILES = ['/etc/subuid', '/etc/subgid'] as const;

function idOf(flag: string, name: string): number {
  try {
    return Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    throw new StackerError('STACKER_E_NO_USER', `no user named ${name}`, { hint: 'create it first (useradd -m <name>) or pass --username of an existing user' });
  }
}

/** Next free start for a 65536-id range: past every existing range, at least 100000, past the user's own id. */
export function nextRangeStart(text: string, ownId: number): number {
  let start = 100000;
  for (const line of text.split('\n')) {
    const [, s, c] = line.trim().split(':');
    if (s !== undefined && c !== undefined && /^\d+$/.test(s) && /^\d+$/.test(c)) start = Math.max(start, Number(s) + Number(c));
  }
  if (ownId >= start && ownId < start + COUNT) start = ownId + 1;
  return start;
}

const hasEntry = (text: string, username: string, uid: number): boolean =>
  text.split('\n').some((l) => l.startsWith(`${username}:`) || l.startsWith(`${uid}:`));

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => d !== '' && existsSync(`${d}/${tool}`));
}

/**
 * `stacker unpriv-setup` (as root): a 65536-id subuid/subgid range for a user (the same start in
 * both files when both are missing; never overlapping an existing range) and the stacker and
 * roots dirs, owned by the user. Running it again changes nothing.
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { uid: { type: 'string' }, gid: { type: 'string' }, username: { type: 'string' } });
  if (bool(values, 'help')) {
    process.stdout.write('sudo stacker unpriv-setup [--username U] [--uid N] [--gid N]\n\n   Gives U (default $SUDO_USER) a subuid/subgid range and owned stacker/roots dirs.\n');
    return 0;
  }
  if (process.getuid?.() !== 0) {
    throw new StackerError('STACKER_E_NOT_ROOT', 'unpriv-setup must run as root', { hint: 'sudo stacker unpriv-setup' });
  }
  const username = str(values, 'username') ?? process.env.SUDO_USER;
  if (!username) throw new StackerError('STACKER_E_USAGE', 'which user? pass --username (or run through sudo)');
  const fromSudo = str(values, 'username') === undefined || str(values, 'username') === process.env.SUDO_USER;
  const uid = Number(str(values, 'uid') ?? (fromSudo ? process.env.SUDO_UID : undefined) ?? idOf('-u', username));
  const gid = Number(str(values, 'gid') ?? (fromSudo ? process.env.SUDO_GID : undefined) ?? idOf('-g', username));
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new StackerError('STACKER_E_USAGE', '--uid and --gid must be numbers');
  for (const tool of ['newuidmap', 'newgidmap']) {
    if (!onPath(tool)) process.stderr.write(`warning: ${tool} not found; install it with: apt-get install uidmap\n`);
  }
  const texts = SUBID_FILES.map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : ''));
  const start = Math.max(nextRangeStart(texts[0]!, uid), nextRangeStart(texts[1]!, gid));
  SUBID_FILES.forEach((file, i) => {
    const text = texts[i]!;
    if (hasEntry(text, username, uid)) {
      process.stdout.write(`${username} already has a range in ${file}\n`);
      return;
    }
    appendFileSync(file, `${text.length > 0 && !text.endsWith('\n') ? '\n' : ''}${username}:${start}:${COUNT}\n`);
    process.stdout.write(`added ${username}:${start}:${COUNT} to ${file}\n`);
  });
  const paths = pathsFrom(values);
  for (const d of [paths.stackerDir, paths.rootsDir]) {
    mkdirSync(d, { recursive: true });
    const st = statSync(d);
    if (st.uid !== uid || st.gid !== gid) chownSync(d, uid, gid);
  }
  return 0;
}
