/**
 * The no-op stamp (src/engine/noop-stamp.ts, bin/stacker.js `fastNoop`): a no-op build leaves
 * one, the next identical no-op is answered from it without loading the CLI, and anything that
 * could change the answer sends the build down the full path. Real CLI, unprivileged user.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { busyboxLayout, builtLayers, cleanup, makeProject, runAsUser, runStacker, type Project } from './rig.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const yaml = `base:
  from: {type: oci, url: base/oci:busybox}
  imports: [data.txt, tree]
  run: cat /stacker/imports/data.txt /stacker/imports/tree/a > /out-\${{WHAT:one}}
app:
  from: {type: built, tag: base}
  run: echo app > /app
`;

async function project(): Promise<Project> {
  const p = await makeProject({ 'stacker.yaml': yaml, 'data.txt': 'data\n', 'tree/a': 'a\n', 'tree/sub/b': 'b\n' });
  await p.copyIn(await busyboxLayout(), 'base/oci');
  const r = await runStacker(p, ['build']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return p;
}

const journal = (p: Project) => p.path('.stacker/history-journal.ndjson');

/** A build after the last writes' racy window; whether bin/stacker.js answered it from the stamp. */
async function build(p: Project, args: string[] = [], env?: Record<string, string>): Promise<{ built: string[]; fast: boolean; stdout: string }> {
  await sleep(150);
  const had = existsSync(journal(p)) ? await readFile(journal(p), 'utf8') : '';
  const r = await runStacker(p, ['build', ...args], env === undefined ? {} : { env });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const now = existsSync(journal(p)) ? await readFile(journal(p), 'utf8') : '';
  return { built: builtLayers(r.stdout), fast: now.length > had.length, stdout: r.stdout };
}

describe('no-op stamp (unprivileged, end to end)', () => {
  after(cleanup);

  test('the second no-op is answered from the stamp, prints the same, and is in the history', async () => {
    const p = await project();
    const full = await build(p);
    assert.deepEqual([full.built, full.fast], [[], false]);
    const fast = await build(p);
    assert.deepEqual([fast.built, fast.fast], [[], true]);
    assert.equal(fast.stdout, full.stdout);
    assert.equal(fast.stdout, 'found cached layer base\nfound cached layer app\n');
    // `--quiet` is another command line: its own stamp, and nothing printed.
    await build(p, ['--quiet']);
    const quiet = await build(p, ['--quiet']);
    assert.deepEqual([quiet.stdout, quiet.fast], ['', true]);

    // STACKER_NO_STAMP=1: neither read nor written.
    for (let i = 0; i < 2; i++) assert.equal((await build(p, [], { STACKER_NO_STAMP: '1' })).fast, false);

    // The next command that opens the index takes the journal into the history.
    const h = await runStacker(p, ['history']);
    assert.equal(h.code, 0, h.stderr);
    assert.equal(h.stdout.trim().split('\n').length, 1 + 7, h.stdout); // the first build, two no-ops, two quiet ones, two without stamps
    assert.match(h.stdout.split('\n')[3]!, /success +0 +2 +0 +0 .*build --quiet/);
    assert.equal(existsSync(journal(p)), false);
    const why = await runStacker(p, ['why-rebuilt', '--json']);
    assert.equal(why.code, 0, why.stderr);
  });

  test('what could change the answer takes the full path: inputs, environment, arguments, lock, outputs, clean', async () => {
    const p = await project();
    // After a build: a no-op (which may move tags back: then index.json is newer than its start,
    // and it writes no stamp), another (which writes it), and the third is answered from it.
    const stamped = async () => {
      await build(p);
      await build(p);
      assert.equal((await build(p)).fast, true, 'stamped again');
    };
    await stamped();

    // An import's content, a new entry in a directory import, a mode.
    await p.write('data.txt', 'DATA\n');
    assert.deepEqual((await build(p)).built, ['base', 'app']);
    await stamped();
    await p.write('tree/sub/c', 'c\n');
    assert.deepEqual((await build(p)).built, ['base', 'app']);
    await stamped();
    await runAsUser('chmod', ['0600', 'tree/a'], p.dir);
    assert.deepEqual((await build(p)).built, ['base', 'app']);
    await stamped();

    // The environment (SOURCE_DATE_EPOCH is in every key) and the arguments.
    assert.deepEqual((await build(p, [], { SOURCE_DATE_EPOCH: '1600000000' })).built, ['base', 'app']);
    assert.deepEqual((await build(p, ['--substitute', 'WHAT=two'])).built, ['base', 'app']);
    await stamped();

    // A build holding the lock (here a dead one's): the full path, which takes the stale lock.
    await p.write('.stacker/.lock', '999999\nstacker build\n');
    const locked = await build(p);
    assert.deepEqual([locked.built, locked.fast], [[], false]);
    await stamped();

    // The output layout removed: the full path tags it again.
    await rm(p.path('oci'), { recursive: true, force: true });
    const retag = await build(p);
    assert.deepEqual([retag.built, retag.fast], [[], false]);
    assert.ok(existsSync(p.path('oci/index.json')));
    await stamped();

    // The stacker file; then `stacker clean` (the stacker dir is another).
    await p.write('stacker.yaml', yaml.replace('echo app', 'echo app2'));
    assert.deepEqual((await build(p)).built, ['app']);
    await stamped();
    assert.equal((await runStacker(p, ['clean'])).code, 0);
    assert.deepEqual((await build(p)).built, ['base', 'app']);
    await stamped();
  });

  test('a stamp of another stacker (its bundle changed) is not trusted', async () => {
    const p = await project();
    await build(p);
    const stamps = (await runAsUser('sh', ['-c', 'grep -l "$0" "$HOME"/.cache/stacker/noop-*.json', p.dir], p.dir)).stdout.trim().split('\n');
    assert.equal(stamps.length, 1, 'one stamp for this project and command line');
    const s = JSON.parse(await readFile(stamps[0]!, 'utf8')) as { tool: string };
    await writeFile(stamps[0]!, JSON.stringify({ ...s, tool: `${s.tool}x` }));
    assert.equal((await build(p)).fast, false);
    // A stamp of another shape (damaged, or of another version) is not an error either.
    for (const bad of ['{"v":1', JSON.stringify({ ...s, env: undefined, files: 3 }), 'null']) {
      await writeFile(stamps[0]!, bad);
      const r = await build(p);
      assert.deepEqual([r.built, r.fast], [[], false]);
    }
    assert.equal((await build(p)).fast, true, 'the full path wrote a good stamp again');
  });
});
