import type { Digest } from '../core/digest.js';
import type { BuildNodeRecord, BuildOutcome, BuildRecord, NodeRecord } from './types.js';

/** Row shapes of the index's tables and their mapping to the exported records. */

export const NODE_COLUMNS = `n.key, n.layer, d.doc, n.manifest_digest, n.config_digest, n.layers_json,
  n.snapshot_json, n.build_only, n.extra_json, n.created_at`;

export interface NodeRow {
  key: string;
  layer: string;
  doc: string;
  manifest_digest: string | null;
  config_digest: string | null;
  layers_json: string;
  snapshot_json: string;
  build_only: number;
  extra_json: string | null;
  created_at: number;
}

export function toNode(r: NodeRow): NodeRecord {
  const rec: NodeRecord = {
    key: r.key as Digest,
    layer: r.layer,
    inputDocument: r.doc,
    manifestDigest: r.manifest_digest as Digest | null,
    configDigest: r.config_digest as Digest | null,
    layers: JSON.parse(r.layers_json) as NodeRecord['layers'],
    snapshot: JSON.parse(r.snapshot_json) as Digest[],
    buildOnly: r.build_only === 1,
    createdAt: r.created_at,
  };
  if (r.extra_json !== null) rec.extra = JSON.parse(r.extra_json) as Record<string, unknown>;
  return rec;
}

export interface BuildRow {
  id: number;
  started_at: number;
  finished_at: number | null;
  outcome: BuildOutcome;
  argv_json: string;
  tool_version: string;
  pid: number;
  hostname: string;
  summary_json: string | null;
}

export function toBuild(r: BuildRow): BuildRecord {
  return {
    id: r.id,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    outcome: r.outcome,
    argv: JSON.parse(r.argv_json) as string[],
    toolVersion: r.tool_version,
    pid: r.pid,
    hostname: r.hostname,
    summary: r.summary_json === null ? null : (JSON.parse(r.summary_json) as unknown),
  };
}

export interface BuildNodeRow {
  layer: string;
  key: string | null;
  prev_key: string | null;
  status: BuildNodeRecord['status'];
  reason: string | null;
  reason_json: string | null;
  duration_ms: number | null;
}

export function toBuildNode(r: BuildNodeRow): BuildNodeRecord {
  return {
    layer: r.layer,
    key: r.key as Digest | null,
    prevKey: r.prev_key as Digest | null,
    status: r.status,
    reason: r.reason,
    reasonDetail: r.reason_json === null ? null : (JSON.parse(r.reason_json) as unknown),
    durationMs: r.duration_ms,
  };
}
