import type { BigIntStats } from 'node:fs';
import type { Digest } from '../core/digest.js';

/**
 * One stat-cache row: the content digest of a regular file together with the stat tuple it was
 * computed under. The tuple is only a hint that the content is unchanged; the digest is the truth.
 * Rows are local machine state (absolute paths, device and inode numbers) and never enter a key.
 */
export interface StatRow {
  /** Absolute path of the file. */
  path: string;
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** Full st_mode (type and permission bits). */
  mode: number;
  /** sha256 of the file content only. */
  digest: Digest;
  /** Wall clock (ns) taken before the lstat that produced this tuple. */
  recordedAtNs: bigint;
}

/**
 * A stat-cache row as planning reads it, cheap to load by the thousand: the stat tuple as one
 * string, and the row's distance from the file's last change. (Loading rows as {@link StatRow}s
 * made seven bigints per row, which cost more than the lstat walk of a 10,000-file import.)
 */
export interface CachedStat {
  /** {@link statTuple} of the lstat the row was recorded for. */
  tuple: string;
  digest: Digest;
  /** recordedAtNs - max(mtimeNs, ctimeNs): exact within 2^53 ns (104 days), far beyond any racy window. */
  margin: number;
  /** mtime and ctime both fall on whole seconds (see {@link racyWindowFor}). */
  coarse: boolean;
}

/** `dev:ino:size:mtimeNs:ctimeNs:mode`, dev and ino as signed 64-bit integers (as the index stores them). */
export function statTuple(st: Pick<BigIntStats, 'dev' | 'ino' | 'size' | 'mtimeNs' | 'ctimeNs' | 'mode'>): string {
  return `${BigInt.asIntN(64, st.dev)}:${BigInt.asIntN(64, st.ino)}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.mode}`;
}

/** {@link statTuple} with the owners: what a copy or a no-op stamp must see unchanged. */
export function ownedStatTuple(st: BigIntStats): string {
  return `${statTuple(st)}:${st.uid}:${st.gid}`;
}

/**
 * Whether a file whose lstat is `st` changed within the racy window before `atNs`: a later write
 * in the same timestamp granule could then have kept every stat field, so the stat data proves
 * nothing about what was read at `atNs`.
 */
export function changedNear(st: Pick<BigIntStats, 'mtimeNs' | 'ctimeNs'>, atNs: bigint): boolean {
  const newest = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
  return atNs - newest <= racyWindowFor(st.mtimeNs, st.ctimeNs);
}

export function cachedStat(row: StatRow): CachedStat {
  const newest = row.mtimeNs > row.ctimeNs ? row.mtimeNs : row.ctimeNs;
  return {
    tuple: statTuple({ ...row, mode: BigInt(row.mode) }),
    digest: row.digest,
    margin: Number(row.recordedAtNs - newest),
    coarse: racyWindowFor(row.mtimeNs, row.ctimeNs) === COARSE_WINDOW_NS,
  };
}

/** The rows as lookups use them (tests, and anything holding StatRows). */
export function cachedStats(rows: Iterable<StatRow>): Map<string, CachedStat> {
  const out = new Map<string, CachedStat>();
  for (const r of rows) out.set(r.path, cachedStat(r));
  return out;
}

/**
 * What a directory import's digest was last computed from (tree-stamp.ts): a hash of the stat
 * data of all its entries. While a walk of the tree hashes to the same stamp, the digest holds,
 * and the stat cache's rows for its files need not even be loaded.
 */
export interface TreeStamp {
  stamp: string;
  digest: Digest;
  /** Wall clock (ns) taken before the walk that produced the stamp. */
  recordedAtNs: bigint;
}

export interface StatCacheOptions {
  /** Wall clock in ns; injectable for tests. Default: Date.now() in ns (floored to the ms). */
  now?: () => bigint;
  /** Tree stamps by {@link treeKey}, as loaded. */
  trees?: Map<string, TreeStamp>;
  /**
   * Forces one racy window (ns) for every file, overriding the adaptive default (see
   * {@link racyWindowFor}). Tests use it; production code should not need it.
   */
  racyWindowNs?: bigint;
}

/** Counters of one view's work, for events and benchmarks (not for correctness). */
export interface StatCacheStats {
  /** Files whose digest came from a valid row. */
  hits: number;
  /** Files with no row or a row whose stat tuple differs. */
  misses: number;
  /** Files whose row matched but was racily clean, so they were re-hashed. */
  racy: number;
  /** Directory imports whose digest came from a tree stamp (no per-file lookups). */
  treeHits: number;
  /** Files whose content was read and hashed. */
  hashedFiles: number;
  hashedBytes: number;
}

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
/** Window for filesystems with ns timestamps: covers the kernel's coarse clock tick (<= 10 ms at
 *  HZ=100) and the gap between it and Date.now(), with margin. */
const FINE_WINDOW_NS = 100n * NS_PER_MS;
/** Window for filesystems with whole-second timestamps (ext3, HFS+, FAT's 2 s). */
const COARSE_WINDOW_NS = 2n * NS_PER_S;

/**
 * The racy window for a file. Timestamps whose sub-second part is zero on both mtime and ctime
 * suggest a filesystem with coarse granularity; a 1-in-10^9 false positive on a fine-grained
 * filesystem only costs one extra re-hash.
 */
export function racyWindowFor(mtimeNs: bigint, ctimeNs: bigint): bigint {
  return mtimeNs % NS_PER_S === 0n && ctimeNs % NS_PER_S === 0n ? COARSE_WINDOW_NS : FINE_WINDOW_NS;
}

/**
 * The stat cache seen by one build: the rows loaded from the index (one bulk query) plus the rows
 * this process recorded. Write back {@link changedRows} in one transaction at the end.
 *
 * A row is reused only when (dev, ino, size, mtime, ctime, mode) all match the file's current
 * lstat AND the row is not "racily clean". Racily clean (git's term): the file changed within
 * one timestamp granule of the moment its row was recorded, so a later write in the same granule
 * could have left the whole stat tuple unchanged while the content differs. Such rows are
 * distrusted; the file is re-hashed and re-recorded with a later timestamp, so the next check
 * trusts it. ctime is part of the tuple because it cannot be set from user space: an edit that
 * restores mtime (`touch -d`, tar extraction) still changes ctime.
 */
export class StatCacheView {
  readonly stats: StatCacheStats = { hits: 0, misses: 0, racy: 0, treeHits: 0, hashedFiles: 0, hashedBytes: 0 };
  private loadRows: (() => Map<string, CachedStat>) | undefined;
  private loadedRows: Map<string, CachedStat> | undefined;
  private readonly trees: Map<string, TreeStamp>;
  private readonly changedTreeStamps = new Map<string, TreeStamp>();
  private readonly changed = new Map<string, StatRow>();
  /** The changed rows, as lookups read them. */
  private readonly recorded = new Map<string, CachedStat>();
  private readonly seen = new Set<string>();
  private readonly walkedDirs: string[] = [];
  private readonly clock: () => bigint;
  private readonly forcedWindow: bigint | undefined;

  /** `rows`: the loaded rows, or how to load them when a file is first looked up (a build whose directory imports all match their tree stamps never does). */
  constructor(rows: Map<string, CachedStat> | (() => Map<string, CachedStat>) = new Map(), opts: StatCacheOptions = {}) {
    if (typeof rows === 'function') this.loadRows = rows;
    else this.loadedRows = rows;
    this.trees = opts.trees ?? new Map();
    this.clock = opts.now ?? (() => BigInt(Date.now()) * NS_PER_MS);
    this.forcedWindow = opts.racyWindowNs;
  }

  /** Wall clock in ns, used as `recordedAtNs` of rows; taken before the lstat it vouches for. */
  now(): bigint {
    return this.clock();
  }

  /** The cached content digest for `path` if the row is valid for `st`, else undefined. */
  lookup(path: string, st: BigIntStats): Digest | undefined {
    this.seen.add(path);
    const row = this.recorded.get(path) ?? this.rows.get(path);
    if (row === undefined || row.tuple !== statTuple(st)) {
      this.stats.misses++;
      return undefined;
    }
    const window = this.forcedWindow ?? (row.coarse ? COARSE_WINDOW_NS : FINE_WINDOW_NS);
    if (row.margin <= Number(window)) {
      this.stats.racy++;
      return undefined;
    }
    this.stats.hits++;
    return row.digest;
  }

  /** Records a freshly computed digest for the tuple `st`, observed after time `recordedAtNs`. */
  record(path: string, st: BigIntStats, digest: Digest, recordedAtNs: bigint): void {
    this.seen.add(path);
    const row: StatRow = {
      path,
      dev: st.dev,
      ino: st.ino,
      size: st.size,
      mtimeNs: st.mtimeNs,
      ctimeNs: st.ctimeNs,
      mode: Number(st.mode),
      digest,
      recordedAtNs,
    };
    this.changed.set(path, row);
    this.recorded.set(path, cachedStat(row));
  }

  private get rows(): Map<string, CachedStat> {
    if (this.loadedRows === undefined) {
      this.loadedRows = this.loadRows!();
      this.loadRows = undefined;
    }
    return this.loadedRows;
  }

  /** The last tree stamp of a directory import (key: {@link treeKey}). */
  treeStamp(key: string): TreeStamp | undefined {
    return this.changedTreeStamps.get(key) ?? this.trees.get(key);
  }

  /**
   * Whether a stamp that matches the tree now can vouch for its digest: not when an entry
   * changed within the racy window before the stamp was recorded (the coarse one, whatever the
   * filesystem: a tree changed that recently is simply walked file by file once more).
   */
  treeTrusted(known: TreeStamp, newestNs: bigint): boolean {
    const trusted = newestNs < known.recordedAtNs - (this.forcedWindow ?? COARSE_WINDOW_NS);
    if (trusted) this.stats.treeHits++;
    return trusted;
  }

  recordTree(key: string, stamp: TreeStamp): void {
    this.changedTreeStamps.set(key, stamp);
  }

  /** Tree stamps recorded by this view: what to save back. */
  changedTrees(): Map<string, TreeStamp> {
    return new Map(this.changedTreeStamps);
  }

  /** Counts a content hash (called by the hasher in tree-digest). */
  noteHashed(bytes: number): void {
    this.stats.hashedFiles++;
    this.stats.hashedBytes += bytes;
  }

  /** Notes that the directory `absDir` was walked completely (for {@link stalePaths}). */
  noteWalked(absDir: string): void {
    this.walkedDirs.push(absDir.endsWith('/') ? absDir : `${absDir}/`);
  }

  /** Rows recorded by this view (new or refreshed): what to save back. Empty on a no-op check. */
  changedRows(): StatRow[] {
    return [...this.changed.values()];
  }

  /**
   * Loaded rows for files under a completely walked directory that no longer exist there
   * (deleted or renamed): the index can drop them.
   */
  stalePaths(): string[] {
    if (this.walkedDirs.length === 0) return [];
    const out: string[] = [];
    for (const path of (this.loadedRows ?? new Map<string, CachedStat>()).keys()) {
      if (this.seen.has(path)) continue;
      if (this.walkedDirs.some((d) => path.startsWith(d))) out.push(path);
    }
    return out;
  }
}
