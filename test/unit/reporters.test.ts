import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { StackerError, StackerErrors, type BuildEvent } from '../../src/core/index.js';
import { eventJson, humanReporter, jsonReporter } from '../../src/report/reporters.js';
import { wantsColor, wantsProgress, type ProgressChoice } from '../../src/report/choose-reporter.js';
import { failureLine, humanBytes, humanDuration, settleLine, summaryLine } from '../../src/report/format.js';

/** A stream that keeps what is written to it, in order, with the stream's name. */
function capture(): { out: Writable; err: Writable; both: string[]; text(which?: 'out' | 'err'): string } {
  const both: string[] = [];
  const log: { which: 'out' | 'err'; s: string }[] = [];
  const mk = (which: 'out' | 'err'): Writable =>
    new Writable({
      decodeStrings: false,
      write(chunk: string | Buffer, _enc, cb): void {
        log.push({ which, s: String(chunk) });
        both.push(String(chunk));
        cb();
      },
    });
  return { out: mk('out'), err: mk('err'), both, text: (which) => log.filter((l) => which === undefined || l.which === which).map((l) => l.s).join('') };
}

const planned = (jobs: number, toBuild = 3): BuildEvent => ({ type: 'build-planned', layers: 5, toBuild, cached: 5 - toBuild, jobs });
const out = (layer: string, chunk: string, stream: 'stdout' | 'stderr' = 'stdout'): BuildEvent => ({ type: 'step-output', layer, stream, chunk });
const built = (layer: string): BuildEvent => ({ type: 'node-built', layer, key: 'k', seconds: 1.5 });
const finished = (o: Partial<Extract<BuildEvent, { type: 'build-finished' }>> = {}): BuildEvent => ({
  type: 'build-finished', status: 'success', built: 3, cached: 2, failed: 0, notRun: 0, durationMs: 12_345, failures: [], ...o,
});

describe('humanReporter (plain lines)', () => {
  it('with one job, passes step output through byte for byte and keeps stacker lines', () => {
    const c = capture();
    const r = humanReporter({ out: c.out, err: c.err, debug: false, quiet: false });
    for (const ev of [
      planned(1), { type: 'cache-hit', layer: 'base', key: 'k' }, { type: 'node-started', layer: 'app', reason: 'never built' },
      out('app', 'partial '), out('app', 'line\nwarn', 'stderr'), out('app', 'more\n'), built('app'), finished({ built: 1, cached: 1, durationMs: 400 }),
    ] satisfies BuildEvent[]) r.emit(ev);
    assert.equal(c.text('out'), 'found cached layer base\nbuilding app: never built\npartial more\nfilesystem app built successfully\nbuilt 1, cached 1 in 0.4s\n');
    assert.equal(c.text('err'), 'line\nwarn');
  });

  it('with several jobs, prefixes every line with its layer, holding partial lines per layer and stream until they end', () => {
    const c = capture();
    const r = humanReporter({ out: c.out, err: c.err, debug: false, quiet: false });
    for (const ev of [
      planned(2), { type: 'node-started', layer: 'app', reason: 'never built' }, { type: 'node-started', layer: 'web', reason: 'never built' },
      out('app', 'compil'), out('web', 'hello '), out('app', 'ing\nlinking'), out('web', 'oops\n', 'stderr'), out('web', 'world\r\nprogress 10%\rprogress 100%\n'),
      out('app', '...'), built('web'), out('app', ' done\ntrailing without newline'), built('app'),
      finished({ built: 2, cached: 0, notRun: 1, failed: 1, status: 'failed', durationMs: 75_000 }),
    ] satisfies BuildEvent[]) r.emit(ev);
    assert.deepEqual(c.text('out').split('\n'), [
      'building app: never built',
      'building web: never built',
      '[app] compiling',
      '[web] hello world',
      '[web] progress 100%',
      'filesystem web built successfully',
      '[app] linking... done',
      '[app] trailing without newline',
      'filesystem app built successfully',
      'built 2, cached 0, failed 1, not run 1 in 1m15s',
      '',
    ]);
    assert.equal(c.text('err'), '[web] oops\n');
  });

  it('flushes a failed layer\'s partial line and says in one line that it failed; the rest waits for the end', () => {
    const c = capture();
    const r = humanReporter({ out: c.out, err: c.err, debug: false, quiet: false });
    const error = new StackerError('STACKER_E_RUN', 'run failed with exit status 2\nsecond line', { hint: 'look at the output above' });
    for (const ev of [planned(4), { type: 'node-started', layer: 'db', reason: 'never built' }, out('db', 'no space', 'stderr'), { type: 'node-failed', layer: 'db', error }, finished({ built: 0, cached: 0, failed: 1, notRun: 4, status: 'failed', durationMs: 2000 })] satisfies BuildEvent[]) r.emit(ev);
    assert.equal(c.text('err'), '[db] no space\nlayer db failed: STACKER_E_RUN run failed with exit status 2\n');
    assert.ok(!c.text().includes('look at the output above'), 'the hint is the CLI\'s to print');
    assert.match(c.text('out'), /^built 0, cached 0, failed 1, not run 4 in 2\.0s\n$/m);
  });

  it('prints no summary when nothing was built, and nothing at all but warnings when quiet', () => {
    const c = capture();
    humanReporter({ out: c.out, err: c.err, debug: false, quiet: false }).emit(finished({ built: 0, cached: 5 }));
    assert.equal(c.text(), '');
    const q = capture();
    const r = humanReporter({ out: q.out, err: q.err, debug: false, quiet: true });
    for (const ev of [planned(2), { type: 'node-started', layer: 'a', reason: 'x' }, out('a', 'x\n'), { type: 'log', level: 'warn', message: 'careful' }, { type: 'node-failed', layer: 'a', error: new StackerError('STACKER_E_RUN', 'no') }, finished({ failed: 1 })] satisfies BuildEvent[]) r.emit(ev);
    assert.equal(q.text(), 'warning: careful\n');
  });

  it('says an interrupted build was interrupted, once (not once per layer)', () => {
    const c = capture();
    const r = humanReporter({ out: c.out, err: c.err, debug: false, quiet: false });
    for (const ev of [planned(2), { type: 'node-started', layer: 'a', reason: 'x' }, { type: 'node-failed', layer: 'a', error: new StackerError('STACKER_E_INTERRUPTED', 'build of a interrupted') }, finished({ status: 'interrupted', built: 0, cached: 0, failed: 1, notRun: 2, durationMs: 100 })] satisfies BuildEvent[]) r.emit(ev);
    assert.equal(c.text('err'), '');
    assert.equal(c.text('out'), 'building a: x\ninterrupted: built 0, cached 0, failed 1, not run 2 in 0.1s\n');
    assert.equal(summaryLine({ type: 'build-finished', status: 'interrupted', built: 1, cached: 0, failed: 0, notRun: 2, durationMs: 3_600_000 + 125_000, failures: [] }), 'interrupted: built 1, cached 0, not run 2 in 1h02m');
  });
});

describe('format helpers', () => {
  it('bytes, durations, carriage returns, failure lines', () => {
    assert.deepEqual([0, 1023, 1024, 1536, 12.3 * 1024 * 1024, 5 * 1024 ** 3].map(humanBytes), ['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '12.3 MiB', '5.0 GiB']);
    assert.deepEqual([0, 999, 59_949, 60_000, 3_599_000].map(humanDuration), ['0.0s', '1.0s', '59.9s', '1m00s', '59m59s']);
    assert.deepEqual(['a\r', 'a\rb', '10%\r20%\r', 'plain'].map(settleLine), ['a', 'b', '20%', 'plain']);
    assert.equal(failureLine('x', new Error('boom')), 'layer x failed: STACKER_E_INTERNAL boom');
    assert.equal(failureLine('x', new StackerError('STACKER_E_RUN', 'y'.repeat(300))).length, 'layer x failed: STACKER_E_RUN '.length + 200);
  });
});

describe('jsonReporter (--json)', () => {
  const location = { file: 'stacker.yaml', line: 3, col: 5, length: 4, sourceLine: '  run: true' };
  const every: BuildEvent[] = [
    { type: 'log', level: 'warn', message: 'm', layer: 'a' },
    { type: 'node-planned', layer: 'a', key: 'k', state: 'build', reason: 'never built' },
    { type: 'build-planned', layers: 3, toBuild: 2, cached: 1, jobs: 2 },
    { type: 'cache-hit', layer: 'a', key: 'k', manifest: 'sha256:m' },
    { type: 'node-started', layer: 'b', reason: 'never built' },
    { type: 'node-step', layer: 'b', step: 'base' },
    { type: 'pull-progress', ref: 'docker://x', digest: 'sha256:d', bytes: 1, total: 2, layer: 'b' },
    { type: 'step-output', layer: 'b', stream: 'stderr', chunk: 'é\u0000\n' },
    { type: 'pack-progress', layer: 'b', bytes: 10 },
    { type: 'layer-written', layer: 'b', digest: 'sha256:l', diffId: 'sha256:t', size: 10, seconds: 0.1 },
    { type: 'node-built', layer: 'b', key: 'k', manifest: 'sha256:m', seconds: 1 },
    { type: 'node-failed', layer: 'c', error: new StackerError('STACKER_E_RUN', 'run failed', { hint: 'h', location }) },
    { type: 'build-finished', status: 'failed', built: 1, cached: 1, failed: 1, notRun: 0, durationMs: 5, failures: [{ layer: 'c', code: 'STACKER_E_RUN', message: 'run failed' }] },
  ];

  it('writes every event as one JSON line that parses back to the event, with a time first', () => {
    const c = capture();
    const r = jsonReporter(c.out);
    for (const ev of every) r.emit(ev);
    const lines = c.text().split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, every.length);
    lines.forEach((line, i) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      assert.equal(Object.keys(parsed)[0], 'time');
      assert.ok(!Number.isNaN(Date.parse(parsed.time as string)));
      const { time: _t, ...rest } = parsed;
      const ev = every[i]!;
      const expected = ev.type === 'node-failed' ? { ...ev, error: { code: 'STACKER_E_RUN', message: 'run failed', hint: 'h', location } } : ev;
      assert.deepEqual(rest, expected);
    });
  });

  it('serialises any error: a plain Error, several errors, no hint or location', () => {
    const at = new Date('2024-01-02T03:04:05.000Z');
    const plain = { type: 'node-failed', layer: 'x', error: new Error('bug') as StackerError } satisfies BuildEvent;
    assert.equal(eventJson(plain, at), '{"time":"2024-01-02T03:04:05.000Z","type":"node-failed","layer":"x","error":{"code":"STACKER_E_INTERNAL","message":"bug"}}');
    const many = { type: 'node-failed', layer: 'x', error: new StackerErrors([new StackerError('STACKER_E_A', 'a'), new StackerError('STACKER_E_B', 'b', { hint: 'hb' })]) as unknown as StackerError } satisfies BuildEvent;
    assert.deepEqual((JSON.parse(eventJson(many, at)) as { error: unknown }).error, {
      code: 'STACKER_E_MULTIPLE', message: 'a\nb', errors: [{ code: 'STACKER_E_A', message: 'a' }, { code: 'STACKER_E_B', message: 'b', hint: 'hb' }],
    });
  });
});

describe('choosing the reporter', () => {
  const base: ProgressChoice = { progress: false, noProgress: false, quiet: false, json: false, interactive: false, isTTY: true, env: { TERM: 'xterm-256color' } };
  it('the live display on a terminal only, unless turned off or forced', () => {
    assert.equal(wantsProgress(base), true);
    assert.equal(wantsProgress({ ...base, isTTY: false }), false);
    assert.equal(wantsProgress({ ...base, env: { TERM: 'dumb' } }), false);
    assert.equal(wantsProgress({ ...base, env: {} }), true);
    for (const off of ['noProgress', 'quiet', 'json', 'interactive'] as const) {
      assert.equal(wantsProgress({ ...base, [off]: true }), false, off);
      assert.equal(wantsProgress({ ...base, [off]: true, progress: true }), false, `${off} beats --progress`);
    }
    assert.equal(wantsProgress({ ...base, isTTY: false, progress: true }), true);
  });
  it('colours unless NO_COLOR or a dumb terminal', () => {
    assert.equal(wantsColor({ TERM: 'xterm' }), true);
    assert.equal(wantsColor({ TERM: 'xterm', NO_COLOR: '1' }), false);
    assert.equal(wantsColor({ TERM: 'xterm', NO_COLOR: '' }), true);
    assert.equal(wantsColor({ TERM: 'dumb' }), false);
  });
});
