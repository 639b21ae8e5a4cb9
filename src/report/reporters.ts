import type { BuildEvent, EventSink } from '../core/index.js';
import { shortDigest } from '../core/index.js';

export interface ReporterOptions {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  debug: boolean;
  quiet: boolean;
}

/**
 * Plain lines for people (and for the scripts that match stacker's messages:
 * `found cached layer <name>`, `filesystem <name> built successfully`). Step output is passed
 * through as it arrives.
 */
export function humanReporter(o: ReporterOptions): EventSink {
  const line = (s: string): void => {
    o.out.write(`${s}\n`);
  };
  return {
    emit(ev: BuildEvent): void {
      switch (ev.type) {
        case 'log':
          if (ev.level === 'debug' && !o.debug) return;
          if (ev.level === 'info' && o.quiet) return;
          (ev.level === 'warn' ? o.err : o.out).write(`${ev.level === 'warn' ? 'warning: ' : ''}${ev.layer ? `${ev.layer}: ` : ''}${ev.message}\n`);
          return;
        case 'cache-hit':
          if (!o.quiet) line(`found cached layer ${ev.layer}`);
          return;
        case 'node-started':
          if (!o.quiet) line(`building ${ev.layer}: ${ev.reason}`);
          return;
        case 'step-output':
          if (!o.quiet) (ev.stream === 'stderr' ? o.err : o.out).write(ev.chunk);
          return;
        case 'layer-written':
          if (o.debug) line(`${ev.layer}: layer ${shortDigest(ev.digest)} (${ev.size} bytes) in ${ev.seconds.toFixed(2)}s`);
          return;
        case 'node-built':
          if (!o.quiet) line(`filesystem ${ev.layer} built successfully`);
          return;
        case 'pull-progress':
        case 'node-planned':
          return;
        case 'node-failed':
          return;
      }
    },
  };
}

/** One JSON object per line, for machines (`--json`). */
export function jsonReporter(out: NodeJS.WritableStream): EventSink {
  return {
    emit(ev: BuildEvent): void {
      const data = ev.type === 'node-failed' ? { ...ev, error: { code: ev.error.code, message: ev.error.message } } : ev;
      out.write(`${JSON.stringify({ time: new Date().toISOString(), ...data })}\n`);
    },
  };
}
