import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { builtLayers, busyboxLayout, cleanup, makeProject, runStacker } from './rig.js';

after(cleanup);

test('--order-only lists the files in build order with their prerequisites, and builds nothing', async () => {
  const p = await makeProject({
    'base/stacker.yaml': 'base:\n  from: {type: scratch}\n',
    'app/stacker.yaml': 'config:\n  prerequisites: [../base/stacker.yaml]\napp:\n  from: {type: built, tag: base}\n',
  });
  const r = await runStacker(p, ['build', '-f', 'app/stacker.yaml', '--order-only']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `0 build ${p.dir}/base/stacker.yaml: requires: []\n1 build ${p.dir}/app/stacker.yaml: requires: [${p.dir}/base/stacker.yaml]\n`);
  assert.equal(await p.exists('oci'), false);
});

test('recursive-build builds every file found (each in its own namespaced builder), then nothing', async () => {
  const p = await makeProject({
    'one/stacker.yaml': 'one:\n  from: {type: oci, url: base/oci:busybox}\n  run: echo one > /one.txt\n',
    'two/stacker.yaml': 'two:\n  from: {type: oci, url: base/oci:busybox}\n  run: echo two > /two.txt\n',
  });
  await p.copyIn(await busyboxLayout(), 'base/oci');
  const r = await runStacker(p, ['recursive-build'], { env: { STACKER_TRACE: '1' } });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(builtLayers(r.stdout), ['one', 'two']);
  // One process plans all the files and waits for a builder per file (it does not become one).
  const pids = new Set([...r.stderr.matchAll(/^trace (\d+) \S+ builder: spawn$/gm)].map((m) => m[1]));
  assert.equal(pids.size, 1, r.stderr);
  assert.equal([...r.stderr.matchAll(/builder: spawn$/gm)].length, 2, r.stderr);
  assert.deepEqual((await p.read('oci/index.json')).toString().match(/"org.opencontainers.image.ref.name":"\w+"/g)?.sort(), ['"org.opencontainers.image.ref.name":"one"', '"org.opencontainers.image.ref.name":"two"']);
  const again = await runStacker(p, ['recursive-build']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(builtLayers(again.stdout), []);
});
