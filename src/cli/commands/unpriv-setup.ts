import { appendFileSync, chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { StackerError } from '../../core/index.js';
import { parse, str } from '../args.js';
import { pathsFrom } from './common.js';

function idOf(flag: string, name: string): number {
  return Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
}

/** Next free start for a 65536-id range: past every existing range, at least 100000, past the user's own id. */
export function nextRangeStart(text: string, ownId: number): number {
  let start = 100000;
  for (const line of text.split('\n')) {
    const [, s, c] = line.split(':');
    if (s !== undefined && c !== undefined) start = Math.max(start, Number(s) + Number(c));
  }
  if (ownId >= start && ownId < start + 65536) start = ownId + 1;
  return start;
}

/** `stacker unpriv-setup` (as root): subuid/subgid ranges and owned stacker/roots dirs for a user. */
export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { uid: { type: 'string' }, gid: { type: 'string' }, username: { type: 'string' } });
  if (process.getuid?.() !== 0) {
    throw new StackerError('STACKER_E_NOT_ROOT', 'unpriv-setup must run as root', { hint: 'sudo stacker unpriv-setup' });
  }
  const username = str(values, 'username') ?? process.env.SUDO_USER;
  if (!username) throw new StackerError('STACKER_E_USAGE', 'which user? pass --username (or run through sudo)');
  const uid = Number(str(values, 'uid') ?? process.env.SUDO_UID ?? idOf('-u', username));
  const gid = Number(str(values, 'gid') ?? process.env.SUDO_GID ?? idOf('-g', username));
  for (const [file, own] of [['/etc/subuid', uid], ['/etc/subgid', gid]] as const) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (text.split('\n').some((l) => l.startsWith(`${username}:`) || l.startsWith(`${uid}:`))) continue;
    const start = nextRangeStart(text, own);
    appendFileSync(file, `${text.length > 0 && !text.endsWith('\n') ? '\n' : ''}${username}:${start}:65536\n`);
    process.stdout.write(`added ${username}:${start}:65536 to ${file}\n`);
  }
  const paths = pathsFrom(values);
  for (const d of [paths.stackerDir, paths.rootsDir]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid, gid);
  }
  return 0;
}
