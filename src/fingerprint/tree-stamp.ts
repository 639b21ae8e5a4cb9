import { createHash, type Hash } from 'node:crypto';
import { constants, lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { statTuple } from './stat-cache.js';

/**
 * Tree stamps: a hash of the stat data of every entry of a directory import, in the digest's walk
 * order (names sorted, depth first). Per entry: the relative path, the stat cache's tuple (device,
 * inode, size, mtime, ctime, mode with the type), owners, device number and symlink target. Any
 * change the digest covers changes one of these: a content change changes ctime (which user
 * space cannot set) and usually mtime and size; adding, removing or renaming changes the paths.
 * The racy rule applies to the whole tree (StatCacheView.treeTrusted). So when a walk that only
 * lstats gives the stamp recorded with a digest, the digest holds: for a 10,000-file import
 * that skips loading 10,000 stat cache rows and looking each file up.
 */

/** The key of a directory import's stamp: its path, and whether owners count in its digest. */
export function treeKey(absDir: string, ownership: boolean): string {
  return `${ownership ? 'owners' : 'no-owners'}:${absDir}`;
}

/** Adds one entry to a stamp (the full walk in tree-digest.ts and stampTree alike). */
export function stampEntry(h: Hash, rel: string, st: BigIntStats, target: string | undefined): void {
  const link = target === undefined ? '-' : `${target.length}:${target}`;
  h.update(`${rel.length}:${rel}${statTuple(st)}:${st.uid}:${st.gid}:${st.rdev}:${link}\n`);
}

/**
 * The stamp of the tree at `absDir` (whose lstat is `st`), and its newest mtime or ctime.
 * Undefined when the walk meets anything the digest walk would reject or that changes under it:
 * the caller then walks the tree file by file, which reports the problem.
 */
export function stampTree(absDir: string, st: BigIntStats): { stamp: string; newestNs: bigint } | undefined {
  const h = createHash('sha256');
  const acc = { newestNs: 0n };
  note(h, '.', st, undefined, acc);
  if (!walk(absDir, '.', h, acc)) return undefined;
  return { stamp: h.digest('hex'), newestNs: acc.newestNs };
}

function walk(absDir: string, rel: string, h: Hash, acc: { newestNs: bigint }): boolean {
  let names: string[];
  try {
    names = readdirSync(absDir);
  } catch {
    return false;
  }
  if (names.some((n) => n.includes('\uFFFD'))) return false; // maybe not UTF-8: the digest walk decides
  names.sort();
  for (const name of names) {
    const abs = `${absDir}/${name}`;
    const relPath = rel === '.' ? name : `${rel}/${name}`;
    let st: BigIntStats | undefined;
    let target: string | undefined;
    try {
      st = lstatSync(abs, { bigint: true, throwIfNoEntry: false });
      if (st === undefined) return false;
      if ((Number(st.mode) & constants.S_IFMT) === constants.S_IFLNK) target = readlinkSync(abs);
    } catch {
      return false;
    }
    note(h, relPath, st, target, acc);
    if ((Number(st.mode) & constants.S_IFMT) === constants.S_IFDIR && !walk(abs, relPath, h, acc)) return false;
  }
  return true;
}

function note(h: Hash, rel: string, st: BigIntStats, target: string | undefined, acc: { newestNs: bigint }): void {
  stampEntry(h, rel, st, target);
  if (st.mtimeNs > acc.newestNs) acc.newestNs = st.mtimeNs;
  if (st.ctimeNs > acc.newestNs) acc.newestNs = st.ctimeNs;
}
