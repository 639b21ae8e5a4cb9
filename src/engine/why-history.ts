import { processAlive } from './lock.js';
import { hostname } from 'node:os';
import type { BuildIndex, BuildNodeRecord, BuildRecord } from '../cache/index.js';
import type { InputDocument } from './input-document.js';
import { oneLine, type Reason } from './why-reasons.js';

/**
 * Build history from the index: `stacker history`, and `why-rebuilt` for a past build. Reads the
 * index only (a handful of queries), never the stacker file.
 */

export type BuildOutcomeShown = 'success' | 'failed' | 'interrupted' | 'killed' | 'running';

export interface BuildSummary {
  id: number;
  /** ms since the epoch. */
  startedAt: number;
  finishedAt: number | null;
  /** A 'running' build whose process is gone was killed. */
  outcome: BuildOutcomeShown;
  built: number;
  cached: number;
  failed: number;
  /** Nodes the build meant to build but did not reach (an earlier failure, or killed). */
  notRun: number;
  durationMs: number | null;
  /** The command line, as `stacker …`. */
  command: string;
}

export type LayerState = 'would-rebuild' | 'cached' | 'built' | 'failed' | 'not-run';

export interface LayerWhy {
  layer: string;
  state: LayerState;
  key: string | null;
  /** The key of the record it was compared against. */
  prevKey: string | null;
  /** The first reason in one line (what `build` printed); null for cached layers. */
  reason: string | null;
  reasons: Reason[];
  durationMs: number | null;
}

export interface WhyReport {
  /** `dry-run`: what the next build would do; `build`: what a recorded build did; `none`: nothing to tell. */
  mode: 'dry-run' | 'build' | 'none';
  build: BuildSummary | null;
  /** The layers shown (all the considered ones, or those asked for), in build order. */
  layers: LayerWhy[];
  /** For `build` mode without `--build N`: nothing would rebuild now. */
  upToDate: boolean;
}

/** The shown outcome: a 'running' build of this host whose process is gone was killed. */
export function outcomeOf(b: BuildRecord, isAlive: (pid: number) => boolean = processAlive): BuildOutcomeShown {
  if (b.outcome !== 'running') return b.outcome;
  return b.hostname === hostname() && !isAlive(b.pid) ? 'killed' : 'running';
}

/** `stacker` plus the arguments (the recorded argv starts with the script path). */
function commandOf(argv: string[]): string {
  const args = argv.length > 0 && /(^|\/)(stacker(\.js)?|main\.js)$/.test(argv[0]!) ? argv.slice(1) : argv;
  return ['stacker', ...args].join(' ');
}

export function summarize(b: BuildRecord, nodes: BuildNodeRecord[], isAlive?: (pid: number) => boolean): BuildSummary {
  const count = (s: BuildNodeRecord['status']): number => nodes.filter((n) => n.status === s).length;
  return {
    id: b.id,
    startedAt: b.startedAt,
    finishedAt: b.finishedAt,
    outcome: outcomeOf(b, isAlive),
    built: count('built'),
    cached: count('cached'),
    failed: count('failed'),
    notRun: count('skipped'),
    durationMs: b.finishedAt === null ? null : b.finishedAt - b.startedAt,
    command: commandOf(b.argv),
  };
}

/** The `limit` most recent builds, newest first. */
export function listHistory(index: BuildIndex, limit: number): BuildSummary[] {
  return index.listBuilds(limit).map((b) => summarize(b, index.buildNodes(b.id)));
}

/** The most recent build in which one of `layers` (any layer when empty) was not simply cached. */
export function findLastRebuild(index: BuildIndex, layers: string[]): number | undefined {
  for (const b of index.listBuilds(1000)) {
    const nodes = index.buildNodes(b.id);
    if (nodes.some((n) => n.status !== 'cached' && (layers.length === 0 || layers.includes(n.layer)))) return b.id;
  }
  return undefined;
}

const STATE: Record<BuildNodeRecord['status'], LayerState> = { cached: 'cached', built: 'built', failed: 'failed', skipped: 'not-run' };

/**
 * What build `id` did with each layer (or those of `layers`), and why: the reasons recorded when
 * it planned, or, for rows recorded without them, reasons recomputed from the two documents.
 */
export async function explainBuild(index: BuildIndex, id: number, layers: string[]): Promise<WhyReport | undefined> {
  const b = index.getBuild(id);
  if (b === undefined) return undefined;
  const nodes = index.buildNodes(id);
  const shown = nodes.filter((n) => layers.length === 0 || layers.includes(n.layer));
  // Rows recorded without reasons (an older stacker) are explained from their documents; only
  // they need the explaining code.
  const recompute = shown.some((n) => n.status !== 'cached' && !Array.isArray(n.reasonDetail))
    ? await Promise.all([import('./why.js'), import('../fingerprint/tree-digest.js')])
    : undefined;
  const docs = new Map<string, InputDocument | undefined>();
  const documentOf = (key: string): InputDocument | undefined => {
    if (!docs.has(key)) {
      const d = index.getDocument(key);
      docs.set(key, d === undefined ? undefined : (JSON.parse(d.doc) as InputDocument));
    }
    return docs.get(key);
  };
  const treeOf = (digest: string): ReturnType<NonNullable<typeof recompute>[1]['unpackEntries']> | undefined => {
    const t = index.getTree(digest);
    return t === undefined ? undefined : recompute![1].unpackEntries(t);
  };
  const explainer = recompute === undefined ? undefined : new recompute[0].Explainer({ documentOf, treeOf });
  return {
    mode: 'build',
    build: summarize(b, nodes),
    upToDate: false,
    layers: shown.map((n) => {
      let reasons: Reason[] = [];
      if (n.status !== 'cached') {
        if (Array.isArray(n.reasonDetail)) reasons = n.reasonDetail as Reason[];
        else if (recompute !== undefined) {
          const doc = n.key === null ? undefined : documentOf(n.key);
          const prev = n.prevKey === null ? undefined : documentOf(n.prevKey);
          reasons = doc === undefined ? [{ kind: 'inputs' }] : explainer!.explain(doc, prev);
        }
      }
      return {
        layer: n.layer,
        state: STATE[n.status],
        key: n.key,
        prevKey: n.prevKey,
        reason: n.status === 'cached' ? null : (n.reason ?? (reasons[0] !== undefined ? oneLine(reasons[0]) : null)),
        reasons,
        durationMs: n.durationMs,
      };
    }),
  };
}
