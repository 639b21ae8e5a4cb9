import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareMountPoints } from '../../src/engine/run-step.js';
import { overlayMountPlan } from '../../src/runtime/mount.js';
import { idMapFromArgs, parseIdMap } from '../../src/runtime/userns.js';

const lowers = (n: number): string[] => Array.from({ length: n }, (_, i) => `sha256_${i.toString(16).padStart(64, '0')}/overlay`);

test('a few layers: mount(2) with absolute directories, no process', () => {
  const p = overlayMountPlan({ lowers: lowers(2), upper: 'w/upper', work: 'w/work', target: 'w/rootfs', cwd: '/home/u/p/roots' });
  assert.equal(p.via, 'syscall');
  assert.deepEqual(p, {
    via: 'syscall',
    target: '/home/u/p/roots/w/rootfs',
    options: `lowerdir=/home/u/p/roots/${lowers(2)[0]}:/home/u/p/roots/${lowers(2)[1]},upperdir=/home/u/p/roots/w/upper,workdir=/home/u/p/roots/w/work,userxattr`,
  });
  assert.match(overlayMountPlan({ lowers: lowers(1), target: '/abs/t', cwd: '/r', readonly: true }).options, /^lowerdir=\/r\/sha256_0+\/overlay,userxattr,ro$/);
});

test('many layers: `mount` in the roots dir with the short relative directories', () => {
  // 45 layers fit as relative paths (~3.6 KB) but not with a long absolute prefix.
  const p = overlayMountPlan({ lowers: lowers(45), target: 't', cwd: `/${'d'.repeat(60)}/roots` });
  assert.equal(p.via, 'mount');
  assert.ok(p.options.startsWith(`lowerdir=${lowers(45)[0]}:`));
});

test('a roots dir whose path holds an option separator is never written into the options', () => {
  for (const cwd of ['/home/u/a,b/roots', '/home/u/a:b/roots']) assert.equal(overlayMountPlan({ lowers: lowers(1), target: 't', cwd }).via, 'mount');
});

test('more layers than a page of options holds: a clear error', () => {
  assert.throws(() => overlayMountPlan({ lowers: lowers(60), target: 't', cwd: '/r' }), (e: Error & { code?: string }) => e.code === 'STACKER_E_TOO_MANY_LAYERS');
});

test('a namespace id map, inverted: outside ids to inside ones, unmapped ones undefined', () => {
  const m = parseIdMap('         0       1001          1\n         1     100000      65535\n');
  assert.deepEqual([m(1001), m(100000), m(165534), m(165535), m(0), m(1000)], [0, 1, 65535, undefined, undefined, undefined]);
  assert.equal(parseIdMap('0 0 4294967295\n')(33), 33);
});

test("stacker-nsrun's map arguments give the map the kernel shows for them; none (root) is the identity", () => {
  const ids = idMapFromArgs(['0 1001 1 1 100000 65535', '0 1002 1 1 200000 65535']);
  assert.deepEqual([ids.uid(1001), ids.uid(100000), ids.uid(165534), ids.uid(165535), ids.uid(1002)], [0, 1, 65535, undefined, undefined]);
  assert.deepEqual([ids.gid(1002), ids.gid(200001), ids.gid(1001)], [0, 2, undefined]);
  const kernel = parseIdMap('         0       1001          1\n         1     100000      65535\n');
  for (const id of [0, 1000, 1001, 99999, 100000, 123456, 165534, 165535]) assert.equal(ids.uid(id), kernel(id), String(id));
  assert.deepEqual([idMapFromArgs([]).uid(0), idMapFromArgs([]).gid(4242)], [0, 4242]);
});

test('mount points for a run step: what is made, resolved inside the rootfs, and the top-most created paths', () => {
  const root = mkdtempSync(join(tmpdir(), 'stacker-mp-'));
  const umask = process.umask(0o077); // modes must not follow the umask
  try {
    mkdirSync(join(root, 'etc'));
    mkdirSync(join(root, 'proc'));
    symlinkSync('/etc', join(root, 'conf')); // resolved inside the rootfs, not on the host
    const created = prepareMountPoints(root, [
      { path: '/proc', kind: 'dir' }, { path: '/etc/resolv.conf', kind: 'file' }, { path: '/stacker', kind: 'dir' },
      { path: '/srv/a/x', kind: 'dir' }, { path: '/srv/b', kind: 'file' }, { path: '/conf/app', kind: 'dir' },
    ]);
    const mode = (rel: string): string => `${statSync(join(root, rel)).isDirectory() ? 'd' : 'f'}${(statSync(join(root, rel)).mode & 0o777).toString(8)}`;
    assert.deepEqual(['etc/resolv.conf', 'stacker', 'srv', 'srv/a', 'srv/a/x', 'srv/b', 'etc/app'].map(mode),
      ['f644', 'd755', 'd755', 'd755', 'd755', 'f644', 'd755']);
    // /srv is created once (for /srv/a/x); /srv/b is then new in it.
    assert.deepEqual(created, ['/etc/resolv.conf', '/stacker', '/srv', '/srv/b', '/conf/app']);
  } finally {
    process.umask(umask);
    rmSync(root, { recursive: true, force: true });
  }
});
