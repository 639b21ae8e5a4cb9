import type { BuildEvent, EventSink } from '../core/index.js';
import { failureLine, settleLine, summaryLine } from './format.js';
import { LineBuffers } from './line-buffers.js';
import { ProgressView } from './progress-view.js';
import { announcesFailure, eventLine, isParallel, wantsSummary, type ReporterOptions } from './reporters.js';

export interface ProgressOptions extends ReporterOptions {
  /** SGR colours (off for NO_COLOR). */
  color: boolean;
  /** The clock of the elapsed times (default Date.now). */
  now?: () => number;
  /** Least time between two redraws, default 100 ms; 0 redraws on every event, synchronously. */
  intervalMs?: number;
  /** Clear the region when the process exits or gets SIGINT/SIGTERM (default true). */
  processHooks?: boolean;
}

const CSI = '\x1b[';
/** Colours of the layer prefixes (no red: that is for failures). */
const PALETTE = [36, 33, 35, 32, 34, 96, 93, 95];

type Writer = (s: string) => void;

/**
 * The progress display of a terminal. Lines (cache hits, starts, step output, ends) scroll as
 * with plain lines; below them, a live region shows `[done/total] layers` and one line per
 * running layer with its step and bytes. The region is redrawn at most every `intervalMs`: clear
 * it (cursor up over its lines, erase below), write the lines that came meanwhile, draw it again.
 * Region lines are cut to the terminal's width so that none wraps and the count stays true.
 *
 * The region exists only while layers build (from `build-planned` with something to build until
 * `build-finished`). While it is on screen, anything else written to the same streams (the CLI's
 * rendering of a thrown error, say) clears it first, so nothing is ever written in the middle of
 * it; and it is cleared on the process's exit or on SIGINT/SIGTERM.
 */
export function progressReporter(o: ProgressOptions): EventSink & { close(): void } {
  const now = o.now ?? Date.now;
  const interval = o.intervalMs ?? 100;
  const hooks = o.processHooks ?? true;
  const tty = o.out as NodeJS.WritableStream & { columns?: number; rows?: number };
  const raw = (s: NodeJS.WritableStream): Writer => {
    const write = s.write.bind(s);
    return (text) => void write(text);
  };
  const writeOut = raw(o.out);
  const writeErr = o.err === o.out ? writeOut : raw(o.err);
  const sgr = (code: number | string, s: string): string => (o.color ? `${CSI}${code}m${s}${CSI}0m` : s);
  const prefix = (layer: string): string => {
    let h = 0;
    for (const c of layer) h = (h * 31 + c.codePointAt(0)!) >>> 0;
    return sgr(PALETTE[h % PALETTE.length]!, `[${layer}]`);
  };

  const view = new ProgressView(now);
  const buffers = new LineBuffers();
  let parallel = false;
  let live = false;
  let drawn = 0;
  let lastRegion = '';
  let pending: { stream: 'out' | 'err'; text: string }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let lastPaint = Number.NEGATIVE_INFINITY;
  let unhook: (() => void)[] = [];

  /** Clears the region and writes the lines waiting, in order; the region is not redrawn. */
  const clear = (): void => {
    let outText = drawn > 0 ? `\r${CSI}${drawn}A${CSI}J` : '';
    drawn = 0;
    lastRegion = '';
    for (const p of pending) {
      if (p.stream === 'out') {
        outText += p.text;
        continue;
      }
      if (outText !== '') writeOut(outText);
      outText = '';
      writeErr(p.text);
    }
    pending = [];
    if (outText !== '') writeOut(outText);
  };

  const paint = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    lastPaint = now();
    if (!live) return clear();
    // A pseudo-terminal nobody sized reports 0 columns.
    const lines = view.lines(tty.columns || 80, tty.rows || 24);
    const region = lines.map((l, i) => `${i === 0 ? sgr(1, l) : l}\n`).join('');
    if (pending.length === 0 && region === lastRegion) return;
    clear();
    writeOut(region);
    drawn = lines.length;
    lastRegion = region;
  };

  const schedule = (): void => {
    if (interval <= 0) return paint();
    if (timer !== undefined) return;
    const wait = lastPaint + interval - now();
    if (wait <= 0) return paint();
    timer = setTimeout(paint, wait);
    timer.unref();
  };

  const queue = (stream: 'out' | 'err', text: string): void => {
    pending.push({ stream, text: `${text}\n` });
    if (!live) clear();
  };
  const flushLayer = (layer?: string): void => {
    for (const p of buffers.flush(layer)) queue(p.stream === 'stderr' ? 'err' : 'out', stepLine(p.layer, p.line));
  };
  const stepLine = (layer: string, line: string): string => (parallel ? `${prefix(layer)} ${settleLine(line)}` : settleLine(line));

  /** Writes by others to our streams clear the region first; it comes back below them. */
  const hook = (s: NodeJS.WritableStream): (() => void) => {
    const original = s.write;
    s.write = function (this: unknown, ...args: unknown[]): boolean {
      if (drawn > 0 || pending.length > 0) clear();
      const r = (original as (...a: unknown[]) => boolean).apply(s, args);
      if (live) schedule();
      return r;
    } as typeof s.write;
    return () => {
      s.write = original;
    };
  };
  const onExit = (): void => stop();
  const onSignal = (signal: NodeJS.Signals): void => {
    clear();
    // Alone on the signal, we must not swallow it: end as its default action would.
    if (process.listenerCount(signal) === 1) {
      stop();
      process.kill(process.pid, signal);
    }
  };

  const start = (): void => {
    if (live) return;
    live = true;
    unhook = [...new Set([o.out, o.err])].map(hook);
    if (hooks) {
      process.on('exit', onExit);
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    if (interval > 0) {
      heartbeat = setInterval(schedule, 1000);
      heartbeat.unref();
    }
  };
  function stop(): void {
    flushLayer();
    live = false;
    if (heartbeat !== undefined) clearInterval(heartbeat);
    heartbeat = undefined;
    paint();
    for (const u of unhook) u();
    unhook = [];
    if (hooks) {
      process.off('exit', onExit);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }

  return {
    emit(ev: BuildEvent): void {
      view.update(ev);
      switch (ev.type) {
        case 'build-planned':
          parallel = isParallel(ev);
          if (ev.toBuild > 0) start();
          break;
        case 'node-started':
          start();
          queue('out', `building ${ev.layer}: ${ev.reason}`);
          break;
        case 'step-output':
          for (const line of buffers.push(ev.layer, ev.stream, ev.chunk)) queue(ev.stream === 'stderr' ? 'err' : 'out', stepLine(ev.layer, line));
          break;
        case 'node-built':
          flushLayer(ev.layer);
          queue('out', `filesystem ${ev.layer} built successfully${sgr(2, ` in ${ev.seconds.toFixed(1)}s`)}`);
          break;
        case 'node-failed':
          flushLayer(ev.layer);
          if (announcesFailure(ev, parallel)) queue('err', sgr(31, failureLine(ev.layer, ev.error)));
          break;
        case 'build-finished':
          stop();
          if (!o.quiet && wantsSummary(ev)) writeOut(`${sgr(1, summaryLine(ev))}\n`);
          return;
        default: {
          const line = eventLine(ev, o);
          if (line !== undefined) queue(line.stream, line.stream === 'err' ? sgr(33, line.text) : line.text);
        }
      }
      if (live) schedule();
    },
    close(): void {
      if (live) stop();
    },
  };
}
