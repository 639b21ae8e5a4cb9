import type { BuildEvent, BuildStep } from '../core/index.js';
import { elapsed, humanBytes, truncate } from './format.js';

/** A layer being built, as the live display shows it. */
interface Running {
  layer: string;
  step: BuildStep | 'start';
  since: number;
  /** Per blob of the base being pulled: bytes so far and size. */
  pulls: Map<string, { bytes: number; total: number }>;
  packed: number;
}

/**
 * What the live region of the TTY display knows: layers done out of all, and each running
 * layer's step and bytes. Fed every event; `lines` renders it for a terminal width.
 */
export class ProgressView {
  total: number | undefined;
  done = 0;
  failed = 0;
  private readonly running = new Map<string, Running>();

  constructor(private readonly now: () => number) {}

  get active(): number {
    return this.running.size;
  }

  update(ev: BuildEvent): void {
    switch (ev.type) {
      case 'build-planned':
        this.total = ev.layers;
        this.done = 0;
        this.failed = 0;
        this.running.clear();
        return;
      case 'cache-hit':
        this.done++;
        return;
      case 'node-started':
        this.running.set(ev.layer, { layer: ev.layer, step: 'start', since: this.now(), pulls: new Map(), packed: 0 });
        return;
      case 'node-step': {
        const r = this.running.get(ev.layer);
        if (r !== undefined) r.step = ev.step;
        return;
      }
      case 'pull-progress': {
        // Older engines do not say which layer pulls: with one layer running, it is that one.
        const r = ev.layer !== undefined ? this.running.get(ev.layer) : this.running.size === 1 ? [...this.running.values()][0] : undefined;
        r?.pulls.set(ev.digest, { bytes: ev.bytes, total: ev.total });
        return;
      }
      case 'pack-progress': {
        const r = this.running.get(ev.layer);
        if (r !== undefined) r.packed = ev.bytes;
        return;
      }
      case 'node-built':
        if (this.running.delete(ev.layer)) this.done++;
        return;
      case 'node-failed':
        if (this.running.delete(ev.layer)) this.done++;
        this.failed++;
        return;
      default:
        return;
    }
  }

  /**
   * The region: `[done/total] ...`, then one line per running layer (`  app  pack  12.3 MiB  4s`),
   * each cut to `columns - 1` characters so none wraps (the redraw counts lines), and fewer
   * lines than the terminal has rows (the running layers that do not fit are counted).
   */
  lines(columns: number, rows: number): string[] {
    const now = this.now();
    const list = [...this.running.values()];
    const header = [`[${this.done}/${this.total ?? '?'}] layers`, ...(list.length > 0 ? [`${list.length} building`] : []), ...(this.failed > 0 ? [`${this.failed} failed`] : [])].join(', ');
    const width = Math.max(...list.map((r) => [...r.layer].length), 0);
    const body = list.map((r) => {
      const detail = this.detail(r);
      return `  ${r.layer.padEnd(width)}  ${r.step.padEnd(7)} ${detail === '' ? '' : `${detail}  `}${elapsed(now - r.since)}`;
    });
    // The region never fills the screen: a terminal scrolls a full one, and the redraw would miss.
    const room = Math.max(1, rows - 2);
    if (body.length > room) {
      const kept = Math.max(0, room - 1);
      body.splice(kept, body.length, `  … and ${body.length - kept} more`);
    }
    return [header, ...body].map((l) => truncate(l, Math.max(1, columns - 1)));
  }

  private detail(r: Running): string {
    if (r.step === 'pack' || (r.step === 'commit' && r.packed > 0)) return r.packed > 0 ? `packed ${humanBytes(r.packed)}` : '';
    if (r.step === 'base' || r.step === 'start') {
      if (r.pulls.size === 0) return '';
      let bytes = 0;
      let total = 0;
      for (const p of r.pulls.values()) {
        bytes += p.bytes;
        total += p.total;
      }
      return `pulled ${humanBytes(bytes)} / ${humanBytes(total)}`;
    }
    return '';
  }
}
