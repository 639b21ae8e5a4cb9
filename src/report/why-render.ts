import type { BuildSummary, LayerWhy, WhyReport } from '../engine/why-history.js';
import { baseDigest, baseName, oneLine, type Reason, type RootCause } from '../engine/why-reasons.js';

/**
 * Text of `why-rebuilt`: per layer, every reason with both values (digests as
 * `sha256:<12 hex>…`, run texts as unified diffs, directives as JSON values). The first reason
 * of each layer is the one `build` printed in one line (`oneLine`).
 */

const d12 = (d: string | null): string => (d === null ? '(none)' : d.startsWith('sha256:') ? `sha256:${d.slice(7, 19)}…` : d);
const k12 = (d: string | null): string => (d === null ? '(none)' : d.replace(/^sha256:/, '').slice(0, 12));

function value(v: unknown): string {
  return v === undefined ? '(unset)' : JSON.stringify(v);
}

function importName(r: Extract<Reason, { kind: 'import' | 'overlay-dir' }>): string {
  const what = r.kind === 'import' ? 'import' : 'overlay_dirs source';
  return `${what} ${r.path}${r.dest !== null ? ` (dest ${JSON.stringify(r.dest)})` : ''}`;
}

/**
 * The lines explaining one reason, unindented (nested detail indented by 2). `shown`: layers the
 * report explains on their own, so a root cause among them is named, not repeated.
 */
export function reasonLines(r: Reason, shown: ReadonlySet<string> = new Set()): string[] {
  const sub = (lines: string[]): string[] => lines.map((l) => `  ${l}`);
  switch (r.kind) {
    case 'never-built':
      return ['never built'];
    case 'no-cache':
      return ['--no-cache'];
    case 'binds':
      return [`binds: a layer with binds always rebuilds (${r.binds.map((b) => `${b.source} -> ${b.dest}`).join(', ')})`];
    case 'format':
      return [`stacker's format version: ${r.before} -> ${r.after}`];
    case 'codec':
      return ['layer codec changed:', `  was: ${r.before}`, `  now: ${r.after}`];
    case 'parent': {
      if (r.before === null) return [`new parent ${r.parent} (key ${k12(r.after)})`];
      if (r.after === null) return [`parent ${r.parent} removed (key was ${k12(r.before)})`];
      const out = [`parent ${r.parent} was rebuilt: key ${k12(r.before)} -> ${k12(r.after)}`];
      for (const c of r.rootCauses) out.push(...sub(rootCauseLines(c, shown)));
      return out;
    }
    case 'base': {
      const a = baseName(r.before);
      const b = baseName(r.after);
      const da = baseDigest(r.before);
      const db = baseDigest(r.after);
      if (a === b && da !== undefined && db !== undefined) return [`base ${b} now ${d12(db)} (was ${d12(da)})`];
      return [`base: ${a}${da !== undefined ? ` ${d12(da)}` : ''} -> ${b}${db !== undefined ? ` ${d12(db)}` : ''}`];
    }
    case 'import':
    case 'overlay-dir': {
      const name = importName(r);
      switch (r.change) {
        case 'added':
          return [`${name}: new (${d12(r.after)})`];
        case 'removed':
          return [`${name}: removed (was ${d12(r.before)})`];
        case 'placement':
          return [`${name}: ${(r.fields ?? []).map((f) => `${f.field} ${f.before} -> ${f.after}`).join(', ')}`];
        case 'content': {
          const out = [`${name}: ${d12(r.before)} -> ${d12(r.after)}`];
          for (const f of r.files ?? []) {
            const what = f.change === 'modified' ? f.fields.map((x) => `${x.field} ${d12(x.before)} -> ${d12(x.after)}`).join(', ') : f.change;
            out.push(`  ${f.path}: ${what}`);
          }
          if (r.moreFiles !== undefined) out.push(`  … and ${r.moreFiles} more file${r.moreFiles === 1 ? '' : 's'}`);
          if (r.filesUnknown === true) out.push('  (which files changed is unknown: a listing of the tree is not in the index)');
          return out;
        }
      }
      break;
    }
    case 'run':
      return ['run:', ...sub(r.diff)];
    case 'directive':
      return [`${r.path}: ${value(r.before)} -> ${value(r.after)}`];
    case 'source-date-epoch':
      return [`SOURCE_DATE_EPOCH: ${r.before ?? '(unset)'} -> ${r.after ?? '(unset)'}`];
    case 'inputs':
      return ['inputs changed (the earlier input document is not in the index)'];
  }
  return [];
}

function rootCauseLines(c: RootCause, shown: ReadonlySet<string>): string[] {
  if (shown.has(c.layer)) return [`root cause: ${c.layer}: ${c.reasons.map(oneLine).join('; ')}`];
  return [`root cause: ${c.layer}`, ...c.reasons.flatMap((r) => reasonLines(r, shown)).map((l) => `  ${l}`)];
}

export function formatTime(ms: number): string {
  const t = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())} ${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}`;
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function buildLine(b: BuildSummary): string {
  const counts = [`${b.built} built`, `${b.cached} cached`];
  if (b.failed > 0) counts.push(`${b.failed} failed`);
  if (b.notRun > 0) counts.push(`${b.notRun} not run`);
  return `build ${b.id} (${formatTime(b.startedAt)}, ${b.outcome}${b.durationMs !== null ? `, ${formatDuration(b.durationMs)}` : ''}): ${counts.join(', ')}`;
}

function layerHeader(l: LayerWhy): string {
  switch (l.state) {
    case 'would-rebuild':
      return `${l.layer}: would rebuild`;
    case 'built':
      return `${l.layer}: built${l.durationMs !== null ? ` in ${formatDuration(l.durationMs)}` : ''}`;
    case 'failed':
      return `${l.layer}: failed${l.durationMs !== null ? ` after ${formatDuration(l.durationMs)}` : ''}`;
    case 'not-run':
      return `${l.layer}: not built (the build stopped before it)`;
    case 'cached':
      return `${l.layer}: cached`;
  }
}

/** The whole `why-rebuilt` text. */
export function renderWhy(r: WhyReport, layersAsked: string[] = []): string {
  const out: string[] = [];
  const rebuilt = r.layers.filter((l) => l.state !== 'cached');
  const cached = r.layers.filter((l) => l.state === 'cached');
  if (r.mode === 'none') {
    const which = layersAsked.length > 0 ? layersAsked.join(', ') : 'anything';
    return `nothing would rebuild, and no recorded build rebuilt ${which}\n`;
  }
  if (r.mode === 'dry-run') {
    out.push(`would rebuild ${rebuilt.length} of ${r.layers.length} layer${r.layers.length === 1 ? '' : 's'} (dry run: nothing was built)`);
  } else {
    if (r.upToDate) out.push('nothing would rebuild now; the last build that rebuilt something:');
    out.push(buildLine(r.build!));
  }
  const shown = new Set(rebuilt.map((l) => l.layer));
  for (const l of rebuilt) {
    out.push('', layerHeader(l));
    for (const reason of l.reasons) out.push(...reasonLines(reason, shown).map((s) => `  ${s}`));
  }
  if (cached.length > 0) out.push('', `cached: ${cached.map((l) => l.layer).join(', ')}`);
  return `${out.join('\n')}\n`;
}

/** `--json`: the report as data, times as ISO strings. */
export function whyJson(r: WhyReport): unknown {
  return { ...r, build: r.build === null ? null : historyJson(r.build) };
}

export function historyJson(b: BuildSummary): unknown {
  return { ...b, startedAt: new Date(b.startedAt).toISOString(), finishedAt: b.finishedAt === null ? null : new Date(b.finishedAt).toISOString() };
}

/** `stacker history`: one row per build, newest first. */
export function renderHistory(builds: BuildSummary[]): string {
  if (builds.length === 0) return 'no builds recorded\n';
  const rows = [['BUILD', 'STARTED', 'OUTCOME', 'BUILT', 'CACHED', 'FAILED', 'NOT RUN', 'DURATION', 'COMMAND']];
  for (const b of builds) {
    rows.push([String(b.id), formatTime(b.startedAt), b.outcome, String(b.built), String(b.cached), String(b.failed), String(b.notRun), formatDuration(b.durationMs), b.command]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const right = new Set([0, 3, 4, 5, 6, 7]);
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n') + '\n';
}
