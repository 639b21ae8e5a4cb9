import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { cleanup, debianBaseLayout, makeProject, runAsUser, runStacker } from './rig.js';

/** Package managers work in `run`: apt-get install in a Debian base, as an unprivileged user. */
describe('stacker build: apt-get in a Debian base', () => {
  after(cleanup);

  test('apt-get install succeeds and the package is in the image', async () => {
    const debian = await debianBaseLayout();
    const p = await makeProject({
      'stacker.yaml': `
deb:
  from:
    type: oci
    url: base:debian
  run: |
    apt-get update
    apt-get install -y --no-install-recommends jq
    jq --version
`,
    });
    await cp(debian, p.path('base'), { recursive: true });
    execFileSync('chown', ['-R', `${p.rig.user.uid}:${p.rig.user.gid}`, p.path('base')]);
    const r = await runStacker(p, ['build'], { timeoutMs: 15 * 60 * 1000 });
    assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000));
    const ls = await runAsUser('sh', ['-c', 'umoci unpack --rootless --image oci:deb u >/dev/null && ls u/rootfs/usr/bin/jq'], p.dir);
    assert.equal(ls.stdout.trim(), 'u/rootfs/usr/bin/jq');
  });
});
