/**
 * What a build tells its user, end to end, as the unprivileged user: the `--json` event stream
 * of a parallel build (and of a no-op and a failing one), the plain lines of a parallel build,
 * and the live display on a real terminal (under `script`), which must leave the screen clean.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { busyboxLayout, cleanup, getRig, makeProject, runAsUser, runStacker, type Project } from './rig.js';
import { Screen } from '../unit/progress-screen.js';

interface Ev {
  time: string;
  type: string;
  layer?: string;
  [k: string]: unknown;
}

/** Every stdout line of a `--json` run as an event; fails on a line that is not one. */
function events(stdout: string): Ev[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const ev = JSON.parse(l) as Ev;
      assert.equal(typeof ev.type, 'string', l);
      assert.ok(!Number.isNaN(Date.parse(ev.time)), l);
      return ev;
    });
}

const FROM = 'from: {type: oci, url: "base/oci:busybox"}';
const yaml = (leftRun: string, rightRun: string): string => `
left:
  ${FROM}
  run: |
    ${leftRun}
right:
  ${FROM}
  run: |
    ${rightRun}
both:
  ${FROM}
  imports:
    - stacker://left/left
    - stacker://right/right
  run: |
    cat /stacker/imports/left /stacker/imports/right > /both
    echo both-out
`;
const GOOD = yaml('echo left-out; echo left-err >&2; echo left > /left', 'echo right-out; echo right > /right');
const LAYERS = ['left', 'right', 'both'];

async function project(): Promise<Project> {
  const p = await makeProject({ 'stacker.yaml': GOOD });
  await p.copyIn(await busyboxLayout(), 'base/oci');
  return p;
}

describe('build events and output (unprivileged, end to end)', () => {
  after(cleanup);

  test('--json: a parallel build, then a no-op, then a failure, as events', async () => {
    const p = await project();
    const first = await runStacker(p, ['build', '--json', '--jobs', '2']);
    assert.equal(first.code, 0, first.stderr + first.stdout);
    const evs = events(first.stdout);
    const of = (type: string, layer?: string): Ev[] => evs.filter((e) => e.type === type && (layer === undefined || e.layer === layer));
    const at = (type: string, layer: string): number => evs.findIndex((e) => e.type === type && e.layer === layer);

    assert.deepEqual({ ...evs[0], time: undefined }, { time: undefined, type: 'build-planned', layers: 3, toBuild: 3, cached: 0, jobs: 2, inProcess: false });
    const last = evs.at(-1)!;
    assert.equal(last.type, 'build-finished');
    assert.deepEqual({ ...last, time: undefined, durationMs: undefined }, { time: undefined, durationMs: undefined, type: 'build-finished', status: 'success', built: 3, cached: 0, failed: 0, notRun: 0, failures: [] });
    assert.equal(typeof last.durationMs, 'number');
    assert.deepEqual(of('build-planned').length + of('build-finished').length, 2);

    for (const l of LAYERS) {
      assert.equal(of('node-started', l).length, 1, l);
      assert.equal(of('node-built', l).length, 1, l);
      assert.ok(at('node-started', l) < at('node-built', l), l);
      // Steps in their order (a layer skips those it has nothing for), run, pack and commit at least.
      const steps = of('node-step', l).map((e) => e.step as string);
      const order = ['base', 'extract', 'imports', 'run', 'pack', 'commit'];
      assert.deepEqual([...steps].sort((a, b) => order.indexOf(a) - order.indexOf(b)), steps, `${l}: ${steps.join(' ')}`);
      for (const s of ['run', 'pack', 'commit']) assert.ok(steps.includes(s), `${l} has no ${s} step: ${steps.join(' ')}`);
      assert.ok(of('pack-progress', l).some((e) => (e.bytes as number) > 0), `${l} reports packed bytes`);
    }
    // `both` waits for the two it imports from.
    assert.ok(at('node-started', 'both') > Math.max(at('node-built', 'left'), at('node-built', 'right')));
    const output = (l: string, stream: string): string => of('step-output', l).filter((e) => e.stream === stream).map((e) => e.chunk as string).join('');
    assert.match(output('left', 'stdout'), /^left-out$/m);
    assert.match(output('left', 'stderr'), /^left-err$/m);
    assert.match(output('right', 'stdout'), /^right-out$/m);
    assert.match(output('both', 'stdout'), /^both-out$/m);
    assert.equal(of('cache-hit').length, 0);

    // Nothing changed: a hit for each, nothing built.
    const noop = await runStacker(p, ['build', '--json']);
    assert.equal(noop.code, 0, noop.stderr + noop.stdout);
    const n = events(noop.stdout);
    assert.equal(n[0]!.type, 'build-planned');
    assert.deepEqual({ ...n[0], time: undefined, jobs: undefined }, { time: undefined, jobs: undefined, type: 'build-planned', layers: 3, toBuild: 0, cached: 3, inProcess: true });
    assert.deepEqual(n.filter((e) => e.type === 'cache-hit').map((e) => e.layer).sort(), [...LAYERS].sort());
    assert.equal(n.filter((e) => e.type === 'node-started' || e.type === 'step-output').length, 0);
    assert.deepEqual({ ...n.at(-1), time: undefined, durationMs: undefined }, { time: undefined, durationMs: undefined, type: 'build-finished', status: 'success', built: 0, cached: 3, failed: 0, notRun: 0, failures: [] });

    // `right` fails while `left` builds: left ends, both never starts; the failure is data.
    await p.write('stacker.yaml', yaml('echo left2 > /left', 'echo about to fail; exit 3'));
    const bad = await runStacker(p, ['build', '--json', '--jobs', '2']);
    assert.notEqual(bad.code, 0);
    const b = events(bad.stdout);
    const failed = b.filter((e) => e.type === 'node-failed');
    assert.equal(failed.length, 1, bad.stdout);
    assert.equal(failed[0]!.layer, 'right');
    const error = failed[0]!.error as { code: string; message: string };
    assert.match(error.code, /^STACKER_E_/);
    assert.equal(typeof error.message, 'string');
    assert.ok(Object.keys(error).every((k) => ['code', 'message', 'hint', 'location'].includes(k)), JSON.stringify(error));
    assert.ok(b.some((e) => e.type === 'node-built' && e.layer === 'left'));
    assert.ok(!b.some((e) => e.type === 'node-started' && e.layer === 'both'));
    const end = b.at(-1)!;
    assert.deepEqual({ ...end, time: undefined, durationMs: undefined, failures: undefined }, { time: undefined, durationMs: undefined, failures: undefined, type: 'build-finished', status: 'failed', built: 1, cached: 0, failed: 1, notRun: 1 });
    assert.deepEqual(end.failures, [{ layer: 'right', code: error.code, message: error.message }]);
    assert.ok(bad.stderr.includes(`error[${error.code}]`), bad.stderr);
  });

  test('plain lines: a parallel build prefixes each layer\'s output lines and ends with a summary', async () => {
    const p = await project();
    const r = await runStacker(p, ['build', '--jobs', '2']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = r.stdout.split('\n');
    for (const l of LAYERS) {
      assert.ok(out.includes(`filesystem ${l} built successfully`), r.stdout);
      assert.ok(out.some((line) => line.startsWith(`building ${l}: `)), r.stdout);
    }
    assert.ok(out.includes('[left] left-out'), r.stdout);
    assert.ok(out.includes('[right] right-out'), r.stdout);
    assert.ok(out.includes('[both] both-out'), r.stdout);
    assert.ok(r.stderr.split('\n').includes('[left] left-err'), r.stderr);
    assert.match(r.stdout, /\nbuilt 3, cached 0 in \d+\.\ds\n$/);

    // One job: output passes through as it is, no prefix.
    const serial = await runStacker(p, ['build', '--no-cache', '--jobs', '1']);
    assert.equal(serial.code, 0, serial.stderr + serial.stdout);
    assert.ok(serial.stdout.split('\n').includes('left-out'), serial.stdout);
    assert.doesNotMatch(serial.stdout, /^\[left\]/m);

    // Nothing built: stacker's cache lines, no summary.
    const noop = await runStacker(p, ['build']);
    assert.deepEqual(noop.stdout.split('\n').filter((l) => l !== '').sort(), LAYERS.map((l) => `found cached layer ${l}`).sort());
  });

  test('on a terminal, the live display draws a region and leaves only the lines when done', async () => {
    const p = await project();
    const rig = await getRig();
    // `script` gives the build a real pseudo-terminal (sized by stty); its output is what the terminal got.
    const cmd = `stty cols 100 rows 30; ${rig.node} ${rig.stackerBin} build --jobs 2`;
    const r = await runAsUser('script', ['-qefc', cmd, '/dev/null'], p.dir, { env: { TERM: 'xterm-256color' } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\x1b\[\d+A\x1b\[J/, 'the region was drawn and cleared');
    const screen = new Screen(100);
    screen.write(r.stdout);
    const lines = screen.text();
    assert.ok(!lines.some((l) => /^\[\d+\/3\] layers/.test(l) || /^ {2}(left|right|both) /.test(l)), lines.join('\n'));
    for (const l of LAYERS) assert.ok(lines.some((line) => line.startsWith(`filesystem ${l} built successfully in `)), lines.join('\n'));
    assert.ok(lines.includes('[left] left-out') && lines.includes('[left] left-err') && lines.includes('[both] both-out'), lines.join('\n'));
    assert.match(lines.at(-1)!, /^built 3, cached 0 in \d+\.\ds$/);
    assert.ok(lines.every((l) => l.length <= 100));
  });
});
