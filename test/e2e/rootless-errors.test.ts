import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec, execOk, getRig, makeProject, runStacker, cleanup } from './rig.js';

const NOSUB = 'stacker-e2e-nosub';
let home = '';

before(async () => {
  if ((await exec('id', ['-u', NOSUB])).code !== 0) {
    await execOk('useradd', ['-m', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', NOSUB]);
  }
  home = (await execOk('sh', ['-c', `getent passwd ${NOSUB} | cut -d: -f6`])).stdout.trim();
});
after(cleanup);

test('a user without a subordinate id range gets an error saying how to add one', async () => {
  const rig = await getRig();
  const dir = await mkdtemp(join(rig.projectsDir, 'nosub-'));
  await writeFile(join(dir, 'stacker.yaml'), 'a:\n  from: {type: scratch}\n  imports:\n    - path: f\n      dest: /f\n');
  await writeFile(join(dir, 'f'), 'x');
  const uid = Number((await execOk('id', ['-u', NOSUB])).stdout.trim());
  for (const f of ['', 'stacker.yaml', 'f']) await chown(join(dir, f), uid, uid);
  try {
    const r = await exec('runuser', ['-u', NOSUB, '--', 'env', '-i', `HOME=${home}`, `PATH=/usr/local/bin:/usr/bin:/bin`, rig.node, rig.stackerBin, 'build'], { cwd: dir });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`error\\[STACKER_E_NO_SUBID\\]: no subordinate id range for user ${NOSUB} in /etc/subuid`));
    assert.match(r.stderr, new RegExp(`hint: run as root: \`stacker unpriv-setup --username ${NOSUB}\``));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--shell-fail opens a shell in the failed step\'s container, with the same rootfs', async () => {
  const p = await makeProject({ 'stacker.yaml': 'a:\n  from: {type: scratch}\n  imports:\n    - path: sh\n      dest: /bin/sh\n      mode: 0755\n  run: |\n    echo marker > /m\n    exit 3\n' });
  await p.copyIn('/bin/busybox', 'sh');
  const r = await runStacker(p, ['build', '--shell-fail'], { input: 'echo "in-shell: $(cat /m)"\nexit\n' });
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /in-shell: marker/);
  assert.match(r.stderr, /run commands failed for image "a"/);
});
