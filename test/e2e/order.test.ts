import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, makeProject, runStacker } from './rig.js';

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
