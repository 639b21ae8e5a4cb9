import { test } from 'node:test';
import assert from 'node:assert/strict';
import { overlayMountPlan } from '../../src/runtime/mount.js';

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
