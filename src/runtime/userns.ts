import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { StackerError } from '../core/index.js';

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

/**
 * How ids read outside a namespace (stat of files its root made) translate to the ids inside it:
 * the inverse of its uid_map and gid_map. Undefined for an id the namespace does not map.
 */
export interface IdMap { uid(outer: number): number | undefined; gid(outer: number): number | undefined }

/**
 * Parses an id map: "inside outside count" triples, as /proc/<pid>/{uid,gid}_map shows them (a
 * line each) or as newuidmap/newgidmap take them (one after another). Pure.
 */
export function parseIdMap(text: string): (outer: number) => number | undefined {
  const n = text.trim().split(/\s+/).map(Number);
  const ranges: number[][] = [];
  for (let i = 0; i + 3 <= n.length; i += 3) if (n.slice(i, i + 3).every(Number.isInteger)) ranges.push(n.slice(i, i + 3));
  return (outer) => {
    for (const [inside, outside, count] of ranges) if (outer >= outside! && outer - outside! < count!) return inside! + (outer - outside!);
    return undefined;
  };
}

/**
 * The id map stacker-nsrun's arguments (`idMapArgs`) give its namespace: newuidmap and
 * newgidmap write them as they are. Identity without arguments (root: no user namespace).
 */
export function idMapFromArgs(args: string[]): IdMap {
  if (args.length === 0) return { uid: (id) => id, gid: (id) => id };
  return { uid: parseIdMap(args[0]!), gid: parseIdMap(args[1]!) };
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
