import type { BuildEvent, EventSink } from '../core/index.js';
import { shortDigest } from '../core/index.js';
import { failureLine, serializeError, settleLine, summaryLine } from './format.js';
import { LineBuffers, type OutputStream } from './line-buffers.js';

export interface ReporterOptions {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  debug: boolean;
  quiet: boolean;
}

/** A line a reporter prints, and on which of its streams. */
export interface ReportLine {
  stream: 'out' | 'err';
  text: string;
}

/**
 * The lines both human reporters print for the events that are not step output, progress or a
 * build's end: stacker's own wording, which scripts match (`found cached layer <name>`,
 * `filesystem <name> built successfully`, `building <name>: <reason>`).
 */
export function eventLine(ev: BuildEvent, o: { debug: boolean; quiet: boolean }): ReportLine | undefined {
  switch (ev.type) {
    case 'log':
      if (ev.level === 'debug' && !o.debug) return undefined;
      if (ev.level === 'info' && o.quiet) return undefined;
      return { stream: ev.level === 'warn' ? 'err' : 'out', text: `${ev.level === 'warn' ? 'warning: ' : ''}${ev.layer ? `${ev.layer}: ` : ''}${ev.message}` };
    case 'cache-hit':
      return o.quiet ? undefined : { stream: 'out', text: `found cached layer ${ev.layer}` };
    case 'node-started':
      return o.quiet ? undefined : { stream: 'out', text: `building ${ev.layer}: ${ev.reason}` };
    case 'layer-written':
      return o.debug ? { stream: 'out', text: `${ev.layer}: layer ${shortDigest(ev.digest)} (${ev.size} bytes) in ${ev.seconds.toFixed(2)}s` } : undefined;
    case 'node-built':
      return o.quiet ? undefined : { stream: 'out', text: `filesystem ${ev.layer} built successfully` };
    default:
      return undefined;
  }
}

/** Whether layers may build at the same time, so that their output lines need their names. */
export function isParallel(ev: Extract<BuildEvent, { type: 'build-planned' }>): boolean {
  return ev.jobs > 1 && ev.toBuild > 1;
}

/**
 * Whether a failed layer gets its `layer X failed: ...` line: in a parallel build (other layers'
 * output follows, and the error itself is printed only when the build ends), and not for an
 * interruption, which the build's summary reports once.
 */
export function announcesFailure(ev: Extract<BuildEvent, { type: 'node-failed' }>, parallel: boolean): boolean {
  return parallel && (ev.error as { code?: unknown } | undefined)?.code !== 'STACKER_E_INTERRUPTED';
}

/** Whether a finished build gets its one-line summary: when anything was built or failed. */
export function wantsSummary(ev: Extract<BuildEvent, { type: 'build-finished' }>): boolean {
  return ev.built + ev.failed > 0 || ev.status === 'interrupted';
}

/**
 * Plain lines for people and logs. With one layer building at a time, step output passes
 * through as it arrives, byte for byte. When several layers can build at once, every line of a
 * layer's output gets its name in front (`[app] ...`); a line is held until its newline comes (or
 * the layer ends), so lines of different layers never mix, and a failing layer says so in one
 * line the moment it fails (the whole error is printed when the build ends). Unless quiet, a
 * build that built or failed anything ends with a summary (`built 3, cached 2 in 12.3s`).
 */
export function humanReporter(o: ReporterOptions): EventSink {
  const to = (s: 'out' | 'err' | OutputStream): NodeJS.WritableStream => (s === 'err' || s === 'stderr' ? o.err : o.out);
  let parallel = false;
  const buffers = new LineBuffers();
  const writeLines = (layer: string, stream: OutputStream, lines: string[]): void => {
    if (lines.length > 0) to(stream).write(lines.map((l) => `[${layer}] ${settleLine(l)}\n`).join(''));
  };
  const flush = (layer?: string): void => {
    for (const p of buffers.flush(layer)) writeLines(p.layer, p.stream, [p.line]);
  };
  return {
    emit(ev: BuildEvent): void {
      switch (ev.type) {
        case 'build-planned':
          parallel = isParallel(ev);
          return;
        case 'step-output':
          if (o.quiet) return;
          if (parallel) writeLines(ev.layer, ev.stream, buffers.push(ev.layer, ev.stream, ev.chunk));
          else to(ev.stream).write(ev.chunk);
          return;
        case 'node-built':
          flush(ev.layer);
          break;
        case 'node-failed':
          flush(ev.layer);
          if (announcesFailure(ev, parallel) && !o.quiet) o.err.write(`${failureLine(ev.layer, ev.error)}\n`);
          return;
        case 'build-finished':
          flush();
          if (!o.quiet && wantsSummary(ev)) o.out.write(`${summaryLine(ev)}\n`);
          return;
        default:
          break;
      }
      const line = eventLine(ev, o);
      if (line !== undefined) to(line.stream).write(`${line.text}\n`);
    },
  };
}

/** An event as one JSON line: a `time` first, errors as `{code, message, hint, location}`. */
export function eventJson(ev: BuildEvent, time = new Date()): string {
  return JSON.stringify({ time: time.toISOString(), ...ev }, (_key, value: unknown) => {
    if (value instanceof Error) return serializeError(value);
    if (typeof value === 'bigint') return Number(value);
    return value;
  });
}

/** One JSON object per line, for machines (`--json`): every event, as it happens. */
export function jsonReporter(out: NodeJS.WritableStream): EventSink {
  return {
    emit(ev: BuildEvent): void {
      out.write(`${eventJson(ev)}\n`);
    },
  };
}
