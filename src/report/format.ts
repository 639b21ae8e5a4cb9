import { StackerError, StackerErrors, type BuildEvent, type SourceLocation } from '../core/index.js';

/** Bytes in binary units with one decimal: `512 B`, `12.3 MiB`. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A build's duration: `0.4s`, `12.3s`, `2m05s`, `1h02m`. */
export function humanDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}

/** Elapsed time in whole seconds for the live display (it changes once a second, not ten times). */
export function elapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return s < 60 ? `${s}s` : humanDuration(s * 1000);
}

type Finished = Extract<BuildEvent, { type: 'build-finished' }>;

/** `built 3, cached 2, failed 1, not run 4 in 12.3s` (failed and not run only when not zero). */
export function summaryLine(ev: Finished): string {
  const parts = [`built ${ev.built}`, `cached ${ev.cached}`];
  if (ev.failed > 0) parts.push(`failed ${ev.failed}`);
  if (ev.notRun > 0) parts.push(`not run ${ev.notRun}`);
  return `${ev.status === 'interrupted' ? 'interrupted: ' : ''}${parts.join(', ')} in ${humanDuration(ev.durationMs)}`;
}

/**
 * The one line a failed layer gets when it fails, `layer X failed: CODE message`: the first line
 * of the message only, since the CLI renders the whole error (hint, location) when the build ends.
 */
export function failureLine(layer: string, error: unknown): string {
  const { code, message } = serializeError(error);
  const first = message.split('\n', 1)[0]!;
  return `layer ${layer} failed: ${code} ${first.length > 200 ? `${first.slice(0, 199)}…` : first}`;
}

/** An error as data: what `--json` carries. Fields without a value are left out. */
export interface SerializedError {
  code: string;
  message: string;
  hint?: string;
  location?: SourceLocation;
  /** The errors a StackerErrors holds (several failures of one build). */
  errors?: SerializedError[];
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof StackerError) {
    return {
      code: e.code,
      message: e.message,
      ...(e.hint !== undefined ? { hint: e.hint } : {}),
      ...(e.location !== undefined ? { location: { ...e.location } } : {}),
    };
  }
  if (e instanceof StackerErrors) return { code: 'STACKER_E_MULTIPLE', message: e.message, errors: e.errors.map(serializeError) };
  return { code: 'STACKER_E_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/**
 * A line of step output as it would look once a terminal has processed its carriage returns:
 * a CRLF ending goes, and of a progress bar redrawn with `\r` only the last state stays (so a
 * prefix in front of it is not overwritten).
 */
export function settleLine(line: string): string {
  const s = line.endsWith('\r') ? line.slice(0, -1) : line;
  const cr = s.lastIndexOf('\r');
  return cr < 0 ? s : s.slice(cr + 1);
}

/** At most `width` characters (by code point), with `…` when cut. */
export function truncate(s: string, width: number): string {
  const cps = [...s];
  if (cps.length <= width) return s;
  return width <= 0 ? '' : `${cps.slice(0, width - 1).join('')}…`;
}
