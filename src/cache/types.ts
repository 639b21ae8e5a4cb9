import type { Digest } from '../core/digest.js';

export type { CachedStat, StatRow, TreeStamp } from '../fingerprint/stat-cache.js';

/** A layer blob as the image manifest lists it, with its uncompressed digest (diff_id). */
export interface LayerDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  diffId: Digest;
  annotations?: Record<string, string>;
}

/** What building a node produced. */
export interface NodeResult {
  /** The image manifest written for the layer; null when none was (e.g. build_only). */
  manifestDigest: Digest | null;
  configDigest: Digest | null;
  /** Every layer of the image, bottom first (base, applied, own). */
  layers: LayerDescriptor[];
  /** The rootfs chain as diff_ids, bottom first: what a child's `built` base starts from. */
  snapshot: Digest[];
  buildOnly: boolean;
  /** Engine data that has no column yet (e.g. compressor and version). JSON-serialisable. */
  extra?: Record<string, unknown>;
}

/** A cache entry: key → input document and result. */
export interface NodeRecord extends NodeResult {
  /** sha256 of `inputDocument`. */
  key: Digest;
  layer: string;
  /** The canonical JSON text whose sha256 is `key` (parse it to diff). */
  inputDocument: string;
  /** ms since the epoch. */
  createdAt: number;
}

/** Argument of `recordNode`; `createdAt` defaults to now. */
export type NewNodeRecord = Omit<NodeRecord, 'createdAt'> & { createdAt?: number };

export type BuildOutcome = 'running' | 'success' | 'failed' | 'interrupted';

export interface BuildInfo {
  argv: string[];
  toolVersion: string;
  /** Defaults: now, process.pid, os.hostname(). */
  startedAt?: number;
  pid?: number;
  hostname?: string;
}

/** One `stacker build` invocation. A 'running' build whose pid is gone was killed. */
export interface BuildRecord {
  id: number;
  startedAt: number;
  finishedAt: number | null;
  outcome: BuildOutcome;
  argv: string[];
  toolVersion: string;
  pid: number;
  hostname: string;
  summary: unknown;
}

export type BuildNodeStatus = 'cached' | 'built' | 'failed' | 'skipped';

/** What one build did with one layer. */
export interface BuildNodeRecord {
  layer: string;
  /** The node's key in this build; null when it could not be computed (e.g. a failed import). */
  key: Digest | null;
  /** The key of the result it was compared against (the planner's "previous"), if any. */
  prevKey: Digest | null;
  status: BuildNodeStatus;
  /** The first reason, one line, as `build` printed it. */
  reason: string | null;
  /** Structured reasons (JSON data), for `why-rebuilt --json`. */
  reasonDetail: unknown;
  durationMs: number | null;
}

/**
 * Argument of `recordBuildNode`. Re-recording the same layer in the same build updates the row
 * (e.g. 'built' → 'failed'). `inputDocument`, when given, is stored under `key` so a node that
 * never produced a result can still be explained later.
 */
export interface NewBuildNode {
  layer: string;
  status: BuildNodeStatus;
  key?: Digest;
  prevKey?: Digest;
  reason?: string;
  reasonDetail?: unknown;
  durationMs?: number;
  inputDocument?: string;
}

/** The manifest digest a `docker://` / `oci:` reference resolved to, and when. */
export interface BaseRecord {
  ref: string;
  digest: Digest;
  resolvedAt: number;
}

export interface OpenOptions {
  /** Where the numbered `.sql` migrations are; default: `<package root>/cache/migrations`. */
  migrationsDir?: string;
}
