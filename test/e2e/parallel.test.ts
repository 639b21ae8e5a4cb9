/**
 * Parallel builds (`--jobs`), as the unprivileged rig user: independent layers really run at
 * once, a failure stops new work while the running layers end, every failure is reported, and
 * the next build picks up from what was recorded.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { builtLayers, busyboxLayout, makeProject, runStacker, type Project } from './rig.js';

const FROM = '{type: oci, url: "base:busybox"}';

async function project(files: Record<string, string>): Promise<Project> {
  const p = await makeProject(files);
  await cp(await busyboxLayout(), p.path('base'), { recursive: true });
  return p;
}

interface HistoryRow { id: number; outcome: string; built: number; failed: number; notRun: number }

async function lastBuild(p: Project): Promise<HistoryRow> {
  const rows = JSON.parse((await runStacker(p, ['history', '--json'])).stdout) as HistoryRow[];
  return rows.reduce((a, b) => (a.id > b.id ? a : b));
}

/**
 * Layers `a` and `b` each mark their arrival in a shared bind mount and wait (up to ~20 s) for
 * the other's mark: they can only both succeed if they run at the same time.
 */
const rendezvous = (other: string, me: string): string => `
  binds:
    - meet -> /meet
  run: |
    touch /meet/${me}
    i=0
    while [ ! -e /meet/${other} ]; do
      i=$((i+1)); [ $i -lt 200 ] || { echo "${me}: ${other} never came"; exit 1; }
      sleep 0.1
    done
    echo ${me} met ${other} > /${me}`;

describe('parallel builds (unprivileged, end to end)', () => {
  test('independent layers run at once with --jobs 2; a child starts after both its parents', async () => {
    const p = await project({
      'stacker.yaml': `
a:
  from: ${FROM}${rendezvous('b', 'a')}
b:
  from: ${FROM}${rendezvous('a', 'b')}
both:
  from: {type: built, tag: a}
  imports:
    - stacker://b/b
  run: cat /a /stacker/imports/b > /both
`,
      'meet/.keep': '',
    });
    const r = await runStacker(p, ['build', '--jobs', '2']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(builtLayers(r.stdout), ['a', 'b', 'both']);
    assert.match(r.stdout, /^filesystem both built successfully$/m);
    assert.equal((await lastBuild(p)).outcome, 'success');
  });

  test('a failure stops new work, lets running layers finish, reports every failure; the next build resumes', async () => {
    // fail1 and fail2 fail at once while slow is still running: slow still finishes and is
    // recorded, the children of the failed layers never start, both failures are reported.
    const yaml = (fix: boolean): string => `
fail1:
  from: ${FROM}
  run: ${fix ? 'true' : 'exit 3'}
fail2:
  from: ${FROM}
  run: ${fix ? 'true' : 'exit 4'}
slow:
  from: ${FROM}
  run: sleep 2; echo slow > /slow
child:
  from: {type: built, tag: fail1}
  run: echo child > /child
`;
    const p = await project({ 'stacker.yaml': yaml(false) });
    const r = await runStacker(p, ['build', '--jobs', '3']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /error\[STACKER_E_RUN_FAILED\]: run commands failed for image "fail1"[^\n]*exit status 3/);
    assert.match(r.stderr, /error\[STACKER_E_RUN_FAILED\]: run commands failed for image "fail2"[^\n]*exit status 4/);
    assert.match(r.stdout, /^filesystem slow built successfully$/m);
    assert.doesNotMatch(r.stdout, /^building child/m);
    const last = await lastBuild(p);
    assert.deepEqual([last.outcome, last.built, last.failed, last.notRun], ['failed', 1, 2, 1]);

    // slow was recorded when it finished: the fixed build reuses it and builds the rest.
    await p.write('stacker.yaml', yaml(true));
    const again = await runStacker(p, ['build', '--jobs', '3']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /^found cached layer slow$/m);
    assert.deepEqual(builtLayers(again.stdout).sort(), ['child', 'fail1', 'fail2']);
  });

  test('--jobs must be a positive whole number', async () => {
    const p = await project({ 'stacker.yaml': `a:\n  from: ${FROM}\n  run: true\n` });
    const r = await runStacker(p, ['build', '--jobs', '0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error\[STACKER_E_USAGE\]: --jobs 0: not a positive whole number/);
  });
});
