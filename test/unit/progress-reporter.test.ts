import { afterEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { StackerError, type BuildEvent } from '../../src/core/index.js';
import { progressReporter, type ProgressOptions } from '../../src/report/progress-reporter.js';
import { Screen } from './progress-screen.js';

/** stdout and stderr of one terminal: both write to the same screen, as they do in a shell. */
function terminal(columns = 80, rows = 24): { out: Writable & { isTTY: boolean; columns: number; rows: number }; err: Writable; screen: Screen; raw: string[] } {
  const screen = new Screen(columns);
  const raw: string[] = [];
  const mk = (): Writable =>
    new Writable({
      decodeStrings: false,
      write(chunk: string | Buffer, _enc, cb): void {
        raw.push(String(chunk));
        screen.write(String(chunk));
        cb();
      },
    });
  const out = Object.assign(mk(), { isTTY: true, columns, rows });
  return { out, err: mk(), screen, raw };
}

let clock = 0;
const opts = (t: ReturnType<typeof terminal>, more: Partial<ProgressOptions> = {}): ProgressOptions => ({
  out: t.out, err: t.err, debug: false, quiet: false, color: false, now: () => clock, intervalMs: 0, processHooks: false, ...more,
});

const MiB = 1024 * 1024;
const start: BuildEvent[] = [
  { type: 'build-planned', layers: 4, toBuild: 3, cached: 1, jobs: 2 },
  { type: 'cache-hit', layer: 'base', key: 'k' },
  { type: 'node-started', layer: 'app', reason: 'never built' },
  { type: 'node-started', layer: 'website', reason: 'import ./site changed' },
  { type: 'node-step', layer: 'app', step: 'base' },
  { type: 'pull-progress', ref: 'docker://x', digest: 'sha256:1', bytes: 5 * MiB, total: 10 * MiB, layer: 'app' },
  { type: 'pull-progress', ref: 'docker://x', digest: 'sha256:2', bytes: 0, total: 2.5 * MiB, layer: 'app' },
  { type: 'node-step', layer: 'website', step: 'run' },
  { type: 'step-output', layer: 'website', stream: 'stdout', chunk: 'npm install' },
  { type: 'step-output', layer: 'website', stream: 'stderr', chunk: 'npm WARN old\n' },
  { type: 'step-output', layer: 'website', stream: 'stdout', chunk: 'ed 12 packages\nbuild' },
];
const end: BuildEvent[] = [
  { type: 'node-step', layer: 'website', step: 'pack' },
  { type: 'pack-progress', layer: 'website', bytes: 3 * MiB },
  { type: 'node-built', layer: 'website', key: 'k', seconds: 2 },
  { type: 'node-failed', layer: 'app', error: new StackerError('STACKER_E_PULL', 'registry said 500', { hint: 'retry' }) },
  { type: 'build-finished', status: 'failed', built: 1, cached: 1, failed: 1, notRun: 1, durationMs: 4200, failures: [{ layer: 'app', code: 'STACKER_E_PULL', message: 'registry said 500' }] },
];

afterEach(() => {
  clock = 0;
});

describe('progressReporter (TTY)', () => {
  it('keeps a live region under the scrolling lines, and leaves only the lines when the build ends', () => {
    const t = terminal();
    const r = progressReporter(opts(t));
    for (const ev of start) r.emit(ev);
    clock = 3500;
    r.emit({ type: 'node-step', layer: 'app', step: 'base' });
    assert.deepEqual(t.screen.text(), [
      'found cached layer base',
      'building app: never built',
      'building website: import ./site changed',
      '[website] npm WARN old',
      '[website] npm installed 12 packages',
      '[1/4] layers, 2 building',
      '  app      base    pulled 5.0 MiB / 12.5 MiB  3s',
      '  website  run     3s',
    ]);
    for (const ev of end) r.emit(ev);
    assert.deepEqual(t.screen.text(), [
      'found cached layer base',
      'building app: never built',
      'building website: import ./site changed',
      '[website] npm WARN old',
      '[website] npm installed 12 packages',
      '[website] build',
      'filesystem website built successfully in 2.0s',
      'layer app failed: STACKER_E_PULL registry said 500',
      'built 1, cached 1, failed 1, not run 1 in 4.2s',
    ]);
    assert.doesNotMatch(t.raw.join(''), /\x1b\[\d*m/, 'no colour when color is off');
  });

  it('shows packed bytes while packing, and cuts region lines to the width so none wraps', () => {
    const t = terminal(30);
    const r = progressReporter(opts(t));
    for (const ev of start) r.emit(ev);
    r.emit({ type: 'node-step', layer: 'website', step: 'pack' });
    r.emit({ type: 'pack-progress', layer: 'website', bytes: 1536 });
    const region = t.screen.text().slice(-3);
    assert.deepEqual(region, ['[1/4] layers, 2 building', '  app      base    pulled 5.…', '  website  pack    packed 1.…']);
    for (const line of region) assert.ok(line.length <= 29);
    for (const ev of end) r.emit(ev);
    assert.ok(t.screen.text().every((l) => !l.startsWith('  ') && !l.startsWith('[1/')), t.screen.text().join('\n'));
  });

  it('on a short terminal, counts the running layers that do not fit', () => {
    const t = terminal(80, 4);
    const r = progressReporter(opts(t));
    r.emit({ type: 'build-planned', layers: 5, toBuild: 5, cached: 0, jobs: 5 });
    for (const l of ['a', 'b', 'c', 'd']) r.emit({ type: 'node-started', layer: l, reason: 'never built' });
    assert.deepEqual(t.screen.text().slice(-3), ['[0/5] layers, 4 building', '  a  start   0s', '  … and 3 more']);
  });

  it('clears the region before anything else writes to the terminal (an error printed by the CLI)', () => {
    const t = terminal();
    const r = progressReporter(opts(t));
    for (const ev of start) r.emit(ev);
    t.err.write('error[STACKER_E_X]: something broke\n');
    const screen = t.screen.text();
    const at = screen.indexOf('error[STACKER_E_X]: something broke');
    assert.ok(at > 0 && screen.slice(0, at).every((l) => !l.startsWith('[1/4]')), screen.join('\n'));
    assert.equal(screen[at + 1], '[1/4] layers, 2 building', 'the region comes back below');
    r.close();
    assert.equal(t.screen.text().at(-1), '[website] build');
    t.err.write('after\n');
    assert.equal(t.screen.text().at(-1), 'after', 'the streams are left as they were');
  });

  it('without a build to run (a no-op build), prints lines and never draws a region', () => {
    const t = terminal();
    const r = progressReporter(opts(t));
    r.emit({ type: 'build-planned', layers: 2, toBuild: 0, cached: 2, jobs: 2 });
    r.emit({ type: 'cache-hit', layer: 'a', key: 'k' });
    r.emit({ type: 'cache-hit', layer: 'b', key: 'k' });
    r.emit({ type: 'build-finished', status: 'success', built: 0, cached: 2, failed: 0, notRun: 0, durationMs: 3, failures: [] });
    assert.equal(t.raw.join(''), 'found cached layer a\nfound cached layer b\n');
  });

  it('with one job, step output has no prefix but still never shares a line with the region', () => {
    const t = terminal();
    const r = progressReporter(opts(t, { color: true }));
    r.emit({ type: 'build-planned', layers: 1, toBuild: 1, cached: 0, jobs: 4 });
    r.emit({ type: 'node-started', layer: 'a', reason: 'never built' });
    r.emit({ type: 'step-output', layer: 'a', stream: 'stdout', chunk: 'half' });
    assert.deepEqual(t.screen.text().map(strip), ['building a: never built', '[0/1] layers, 1 building', '  a  start   0s']);
    r.emit({ type: 'step-output', layer: 'a', stream: 'stdout', chunk: ' and half\n' });
    r.emit({ type: 'node-built', layer: 'a', key: 'k', seconds: 0.25 });
    r.emit({ type: 'build-finished', status: 'success', built: 1, cached: 0, failed: 0, notRun: 0, durationMs: 300, failures: [] });
    assert.deepEqual(t.screen.text().map(strip), ['building a: never built', 'half and half', 'filesystem a built successfully in 0.3s', 'built 1, cached 0 in 0.3s']);
    assert.ok(t.raw.join('').includes('\x1b[1m'), 'colours when asked');
  });

  it('redraws at most once per interval however many events come', () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    try {
      const t = terminal();
      const r = progressReporter(opts(t, { intervalMs: 100 }));
      r.emit({ type: 'build-planned', layers: 1, toBuild: 1, cached: 0, jobs: 1 });
      r.emit({ type: 'node-started', layer: 'a', reason: 'never built' });
      r.emit({ type: 'node-step', layer: 'a', step: 'pack' });
      const draws = (): number => t.raw.filter((s) => s.startsWith('[0/1]') || s.includes('\n[0/1]')).length;
      const before = draws();
      for (let i = 1; i <= 500; i++) r.emit({ type: 'pack-progress', layer: 'a', bytes: i * 1024 });
      assert.equal(draws(), before, 'nothing drawn before the interval ends');
      clock += 100;
      mock.timers.tick(100);
      assert.equal(draws(), before + 1);
      assert.match(t.screen.text().at(-1)!, /packed 500\.0 KiB/);
      r.close();
    } finally {
      mock.timers.reset();
    }
  });

  it('clears the region when the process exits, and removes its process listeners when done', () => {
    const listeners = (): number => process.listenerCount('exit') + process.listenerCount('SIGINT') + process.listenerCount('SIGTERM');
    const before = listeners();
    const exitBefore = process.listeners('exit');
    const t = terminal();
    const r = progressReporter(opts(t, { processHooks: true }));
    for (const ev of start) r.emit(ev);
    assert.equal(listeners(), before + 3);
    const onExit = process.listeners('exit').find((l) => !exitBefore.includes(l))!;
    (onExit as () => void)();
    assert.equal(t.screen.text().at(-1), '[website] build');
    assert.equal(listeners(), before);
    const again = progressReporter(opts(terminal(), { processHooks: true }));
    for (const ev of [...start, ...end]) again.emit(ev);
    assert.equal(listeners(), before);
  });
});

function strip(s: string): string {
  return s.replace(/\x1b\[\d*m/g, '');
}
