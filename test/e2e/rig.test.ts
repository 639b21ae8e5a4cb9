/**
 * Tests of the end-to-end rig itself (no stacker CLI needed): the unprivileged user and its
 * subid range, the kernel features stacker relies on as that user, staging, the base images,
 * and the local registry.
 */
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  busyboxLayout,
  cleanup,
  debianBaseLayout,
  exec,
  execOk,
  getRig,
  makeBusyboxLayout,
  makeProject,
  pushBusybox,
  runAsUser,
  startRegistry,
  type Rig,
} from './rig.js';
import { debianMirror } from './rig-images.js';
import { stageForUser } from './rig-stage.js';
import { findSubIdRange, isRoot, parseSubIds, userCanRead } from './rig-user.js';

const needsRoot = isRoot() ? false : 'the rig makes its user only when the tests run as root';
let rig: Rig;

before(async () => {
  rig = await getRig();
});
after(cleanup);

interface IndexJson {
  manifests: { digest: string; annotations?: Record<string, string> }[];
}

async function indexDigest(layout: string, tag: string): Promise<string> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as IndexJson;
  const m = index.manifests.find((x) => x.annotations?.['org.opencontainers.image.ref.name'] === tag);
  assert.ok(m, `${layout} has no tag ${tag}`);
  return m.digest;
}

describe('subid parsing', () => {
  test('finds a range by name or uid, and only if it is large enough', () => {
    const text = 'builder:100000:65536\n1002:165536:65536\nsmall:231072:1000\n\nbroken line\n';
    assert.equal(parseSubIds(text).length, 3);
    assert.deepEqual(findSubIdRange(text, 'builder', 1001), { owner: 'builder', start: 100000, count: 65536 });
    assert.deepEqual(findSubIdRange(text, 'other', 1002), { owner: '1002', start: 165536, count: 65536 });
    assert.equal(findSubIdRange(text, 'small', 1003), undefined);
    assert.equal(findSubIdRange(text, 'nobody', 9999), undefined);
  });
});

describe('the unprivileged user', { skip: needsRoot }, () => {
  test('exists, is not root, and has 65536 subuids and subgids', async () => {
    assert.equal(rig.user.name, 'stacker-e2e');
    assert.notEqual(rig.user.uid, 0);
    for (const f of ['/etc/subuid', '/etc/subgid']) {
      const range = findSubIdRange(await readFile(f, 'utf8'), rig.user.name, rig.user.uid);
      assert.ok(range, `${f} has no range of 65536 for ${rig.user.name}`);
    }
    const r = await runAsUser('id', ['-u']);
    assert.equal(r.stdout.trim(), String(rig.user.uid));
  });

  test('enters a user namespace mapping root and its subuid range', async () => {
    const r = await runAsUser('unshare', ['--user', '--map-root-user', '--map-auto', '--mount', 'cat', '/proc/self/uid_map']);
    assert.equal(r.code, 0, r.stderr);
    const range = findSubIdRange(await readFile('/etc/subuid', 'utf8'), rig.user.name, rig.user.uid);
    const rows = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
    assert.deepEqual(rows, [
      [0, rig.user.uid, 1],
      [1, range?.start, 65535],
    ]);
  });

  test('mounts overlayfs with userxattr: whiteouts are 0/0 devices, opaque dirs carry the xattr', async () => {
    const p = await makeProject({ 'lower/gone': 'x', 'lower/dir/old': 'y', 'lower/keep': 'k' });
    for (const d of ['upper', 'work', 'merged']) await runAsUser('mkdir', [d], p.dir);
    const script = [
      'set -e',
      `mount -t overlay overlay -o lowerdir=${p.path('lower')},upperdir=${p.path('upper')},workdir=${p.path('work')},userxattr ${p.path('merged')}`,
      'rm merged/gone',
      'rm -r merged/dir && mkdir merged/dir && echo new > merged/dir/new',
      'cat merged/keep',
    ].join('\n');
    const r = await runAsUser('unshare', ['--user', '--map-root-user', '--map-auto', '--mount', 'sh', '-c', script], p.dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'k');
    const wh = await lstat(p.path('upper/gone'));
    assert.ok(wh.isCharacterDevice(), 'a deletion is a character device in the upper dir');
    assert.equal(wh.rdev, 0);
    const x = await exec('getfattr', ['--only-values', '-n', 'user.overlay.opaque', p.path('upper/dir')]);
    assert.equal(x.code, 0, x.stderr);
    assert.equal(x.stdout, 'y');
    assert.equal(await p.exists('upper/keep'), false);
  });
});

describe('projects and processes', () => {
  test('project files belong to the user, with the modes asked for', async () => {
    const p = await makeProject({ 'a.txt': 'hi\n', 'sub/run.sh': { content: '#!/bin/sh\necho ran\n', mode: 0o755 } });
    const r = await runAsUser('sh', ['-c', 'cat a.txt && ./sub/run.sh && touch sub/new && echo "$HOME"'], p.dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `hi\nran\n${rig.user.home}\n`);
    assert.equal((await stat(p.path('sub'))).uid, rig.user.uid);
    assert.equal((await stat(p.path('sub/run.sh'))).mode & 0o777, 0o755);
    assert.throws(() => p.path('../escape'));
  });

  test('stdin is passed, exit codes are kept', async () => {
    const r = await runAsUser('sh', ['-c', 'cat; exit 3'], undefined, { input: 'abc' });
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'abc');
  });

  test('a timeout kills the whole process group', async () => {
    const p = await makeProject();
    const marker = p.path('late');
    const r = await runAsUser('sh', ['-c', `(sleep 2; touch ${marker}) & sleep 30`], p.dir, { timeoutMs: 300 });
    assert.equal(r.timedOut, true);
    await new Promise((res) => setTimeout(res, 2500));
    assert.equal(await p.exists('late'), false, 'the background child was killed too');
  });
});

describe('staging', { skip: needsRoot }, () => {
  test('the user can load what it runs: package.json and node_modules', async () => {
    assert.ok(await userCanRead(rig.user, join(rig.stage.root, 'package.json')));
    const r = await runAsUser(rig.node, ['--input-type=module', '-e', "await import('yaml'); console.log('ok')"], rig.stage.root);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok');
  });

  test('a repo under a directory only root can enter is staged; a readable one is used in place', async () => {
    const base = await mkdtemp('/var/tmp/stacker-e2e-stagetest-');
    try {
      await chmod(base, 0o755);
      const files: Record<string, string> = {
        'package.json': '{"name":"stacker"}',
        'bin/stacker.js': 'console.log(1)',
        'dist/src/x.js': '',
        'node_modules/m/index.js': '',
      };
      const make = async (repo: string): Promise<void> => {
        for (const [rel, text] of Object.entries(files)) {
          await mkdir(join(repo, rel, '..'), { recursive: true, mode: 0o755 });
          await writeFile(join(repo, rel), text, { mode: 0o644 });
        }
      };
      const closed = join(base, 'closed');
      await mkdir(closed, { mode: 0o700 });
      await make(join(closed, 'repo'));
      const stageBase = join(base, 'stage');
      await mkdir(stageBase, { mode: 0o755 });
      const s1 = await stageForUser(rig.user, join(closed, 'repo'), stageBase);
      assert.equal(s1.staged, true);
      assert.ok(s1.root.startsWith(stageBase));
      assert.ok(await userCanRead(rig.user, s1.stackerBin));
      assert.ok(await userCanRead(rig.user, join(s1.root, 'node_modules/m/index.js')));
      const s2 = await stageForUser(rig.user, join(closed, 'repo'), stageBase);
      assert.equal(s2.root, s1.root, 'an up-to-date copy is reused');
      await writeFile(join(closed, 'repo/dist/src/x.js'), 'changed');
      const s3 = await stageForUser(rig.user, join(closed, 'repo'), stageBase);
      assert.notEqual(s3.root, s1.root, 'a change makes a new copy');
      assert.equal(await readFile(join(s3.root, 'dist/src/x.js'), 'utf8'), 'changed');

      const open = join(base, 'open');
      await make(open);
      const s4 = await stageForUser(rig.user, open, stageBase);
      assert.deepEqual(s4, { root: open, stackerBin: join(open, 'bin/stacker.js'), staged: false });
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});

describe('busybox base image', () => {
  test('passes skopeo inspect and umoci unpack --rootless, and its sh runs', async () => {
    const layout = await busyboxLayout();
    const inspect = await execOk('skopeo', ['inspect', `oci:${layout}:busybox`]);
    const info = JSON.parse(inspect.stdout) as { Digest: string; Os: string; Architecture: string; Layers: string[] };
    assert.equal(info.Os, 'linux');
    assert.equal(info.Layers.length, 1);
    assert.equal(info.Digest, await indexDigest(layout, 'busybox'));
    const arch = (await execOk('dpkg', ['--print-architecture'])).stdout.trim();
    const expected: Record<string, string> = { amd64: 'amd64', arm64: 'arm64', i386: '386', ppc64el: 'ppc64le', armhf: 'arm' };
    assert.equal(info.Architecture, expected[arch] ?? arch);

    const p = await makeProject();
    await p.copyIn(layout, 'oci');
    const un = await runAsUser('umoci', ['unpack', '--rootless', '--image', 'oci:busybox', 'bundle'], p.dir);
    assert.equal(un.code, 0, un.stderr);
    const rootfs = p.path('bundle/rootfs');
    assert.equal(await readlink(join(rootfs, 'bin/sh')), 'busybox');
    assert.equal(await readlink(join(rootfs, 'usr/bin/env')), '../../bin/busybox');
    assert.equal((await stat(join(rootfs, 'tmp'))).mode & 0o7777, 0o1777);
    assert.match(await readFile(join(rootfs, 'etc/passwd'), 'utf8'), /^root:x:0:0:/);

    const run = await runAsUser('bwrap', ['--bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '/bin/sh', '-c', 'echo "$(id -u) $(basename $(readlink /bin/ls))"'], p.dir);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), `${rig.user.uid} busybox`);
  });

  test('is deterministic: two builds give the same digests and bytes', async () => {
    const dir = await mkdtemp('/var/tmp/stacker-e2e-bbtest-');
    try {
      const d1 = await makeBusyboxLayout(join(dir, 'a'));
      const d2 = await makeBusyboxLayout(join(dir, 'b'), 'busybox');
      assert.match(d1, /^sha256:[0-9a-f]{64}$/);
      assert.equal(d1, d2);
      assert.equal(d1, await indexDigest(await busyboxLayout(), 'busybox'));
      const diff = await exec('diff', ['-r', join(dir, 'a'), join(dir, 'b')]);
      assert.equal(diff.code, 0, diff.stdout);
      // A second tag in the same layout keeps the first one.
      await makeBusyboxLayout(join(dir, 'a'), 'other');
      assert.equal(await indexDigest(join(dir, 'a'), 'busybox'), d1);
      assert.equal(await indexDigest(join(dir, 'a'), 'other'), d1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('local registry', () => {
  test('serves the distribution API on 127.0.0.1 and keeps pushed digests', async () => {
    const registry = await startRegistry();
    try {
      assert.match(registry.host, /^127\.0\.0\.1:\d+$/);
      const res = await fetch(`${registry.url}/v2/`);
      assert.equal(res.status, 200);
      const pushed = await pushBusybox(registry);
      assert.equal(pushed.ref, `${registry.host}/busybox:latest`);
      assert.equal(pushed.digest, await indexDigest(await busyboxLayout(), 'busybox'));
      const tags = (await (await fetch(`${registry.url}/v2/busybox/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['latest']);
    } finally {
      await registry.stop();
    }
    await assert.rejects(fetch(`${registry.url}/v2/`));
  });
});

describe('debian base image', { skip: needsRoot }, () => {
  test('the mirror is the one apt uses', async () => {
    assert.match(await debianMirror(), /^https?:\/\/\S+$/);
  });

  test('debootstraps bookworm once into an OCI layout with apt-get in it', { timeout: 20 * 60 * 1000 }, async () => {
    const layout = await debianBaseLayout();
    const info = JSON.parse((await execOk('skopeo', ['inspect', `oci:${layout}:debian`])).stdout) as { Layers: string[] };
    assert.equal(info.Layers.length, 1);
    const blob = join(layout, 'blobs', (info.Layers[0] ?? '').replace(':', '/'));
    const list = await execOk('sh', ['-c', 'tar -tzf "$1" | grep -E "^(usr/bin/apt-get|etc/apt/sources.list|dev/.+)$" || true', 'sh', blob]);
    assert.deepEqual(list.stdout.trim().split('\n').sort(), ['etc/apt/sources.list', 'usr/bin/apt-get']);
    const lists = await execOk('sh', ['-c', 'tar -tzf "$1" | grep "^var/lib/apt/lists/" || true', 'sh', blob]);
    assert.deepEqual(lists.stdout.trim().split('\n'), ['var/lib/apt/lists/', 'var/lib/apt/lists/partial/']);
    assert.equal(await debianBaseLayout(), layout, 'the second call reuses the cache');
  });
});
