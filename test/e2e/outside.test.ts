/**
 * Builds from the user's own process (src/engine/outside.ts): when every layer to build sits on
 * bases already extracted, the planner builds them itself, each run step in namespaces of its
 * own (stacker-nsrun), and packs from outside with the ids translated, or inside a new
 * namespace when it may not read the upper dir. The layers must be exactly those a builder
 * inside the namespaces makes (STACKER_BUILD_INSIDE=1). Real CLI, unprivileged user.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { busyboxLayout, builtLayers, cleanup, getRig, makeProject, runAsUser, runStacker, type Project } from './rig.js';

const yaml = (appRun: string) => `base:
  from: {type: oci, url: base/oci:busybox}
  imports: [data.txt]
  run: |
    mkdir -p /opq /keep
    echo 1 > /opq/x
    echo gone > /gone
    cp /stacker/imports/data.txt /keep/data
app:
  from: {type: built, tag: base}
  imports: [data.txt]
  run: |
${appRun.split('\n').map((l) => `    ${l}`).join('\n')}
`;

/** A run whose upper dir holds other owners, a whiteout, an opaque dir, a symlink, a hard link, a setuid file. */
const READABLE = `rm /gone
rm -rf /opq && mkdir /opq && echo 2 > /opq/z
echo a > /a && chown 1000:1001 /a && ln /a /a2 && ln -s a /l
mkdir -p /srv/www && chown -R 33:33 /srv && chmod 4755 /a
cat /stacker/imports/data.txt > /copied
echo out; echo err >&2`;

/** The same, and a file only its owner (not the build's root) may read: packed inside a namespace. */
const PRIVATE = `${READABLE}
echo secret > /s && chown 1000:1000 /s && chmod 600 /s
mkdir /p && echo in > /p/f && chown -R 1000:1000 /p && chmod 700 /p`;

const SDE = { SOURCE_DATE_EPOCH: '1700000000' };

interface Ev { type: string; layer?: string; inProcess?: boolean; chunk?: string; stream?: string }

async function appManifest(p: Project): Promise<string> {
  const index = JSON.parse(await readFile(p.path('oci/index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
  return index.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === 'app')!.digest;
}

const blob = (p: Project, d: string) => p.path(`oci/blobs/sha256/${d.slice(7)}`);

/** The digest of the last layer of `app` in the project's oci/. */
async function topLayerDigest(p: Project): Promise<string> {
  const m = JSON.parse(await readFile(blob(p, await appManifest(p)), 'utf8')) as { layers: { digest: string }[] };
  return m.layers[m.layers.length - 1]!.digest;
}

/** `tar -tv` of the last layer of `app` in the project's oci/. */
async function topLayer(p: Project): Promise<string> {
  const r = await runAsUser('tar', ['--numeric-owner', '-tvzf', blob(p, await topLayerDigest(p))], p.dir);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function project(run: string): Promise<Project> {
  const p = await makeProject({ 'stacker.yaml': yaml('echo first > /first'), 'data.txt': 'data\n' });
  await p.copyIn(await busyboxLayout(), 'base/oci');
  const r = await runStacker(p, ['build'], { env: SDE });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  await p.write('stacker.yaml', yaml(run));
  return p;
}

/** Rebuilds `app` after its edit (with the user's umask `umask`); returns its events, its trace lines and the app manifest's digest. */
async function rebuild(p: Project, env: Record<string, string>, umask = '022'): Promise<{ evs: Ev[]; trace: string; manifest: string }> {
  const rig = await getRig();
  const r = await runAsUser('sh', ['-c', `umask ${umask} && exec "$0" "$@"`, rig.node, rig.stackerBin, 'build', '--json'], p.dir, { env: { ...SDE, STACKER_TRACE: '1', ...env } });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const evs = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
  assert.deepEqual(evs.filter((e) => e.type === 'node-built').map((e) => e.layer), ['app']);
  return { evs, trace: r.stderr, manifest: await appManifest(p) };
}

describe('building from the user\'s process (unprivileged, end to end)', () => {
  after(cleanup);

  for (const [what, run, packedInside] of [['readable by the user', READABLE, false], ['with files only their owner may read', PRIVATE, true]] as const) {
    test(`a leaf rebuilt from the user's process is the layer a builder inside makes (${what})`, async () => {
      const [here, inside] = await Promise.all([project(run), project(run)]);
      const a = await rebuild(here, {});
      const b = await rebuild(inside, { STACKER_BUILD_INSIDE: '1' });
      assert.equal(a.evs.find((e) => e.type === 'build-planned')?.inProcess, true);
      assert.equal(b.evs.find((e) => e.type === 'build-planned')?.inProcess, false);
      assert.match(a.trace, /building here/);
      assert.equal(/pack inside/.test(a.trace), packedInside, a.trace);
      assert.equal(a.manifest, b.manifest);
      // The run's output streams, stdout and stderr apart.
      const out = (evs: Ev[], stream: string) => evs.filter((e) => e.type === 'step-output' && e.stream === stream).map((e) => e.chunk).join('');
      assert.match(out(a.evs, 'stdout'), /^out$/m);
      assert.match(out(a.evs, 'stderr'), /^err$/m);
      // The top layer as tar lists it: owners, modes, links and whiteouts as the run left them.
      const list = await topLayer(here);
      assert.match(list, /^-rwsr-xr-x 1000\/1001 .* a$/m);
      assert.match(list, /^hrwsr-xr-x 1000\/1001 .* a2 link to a$/m);
      assert.match(list, /^lrwxrwxrwx 0\/0 .* l -> a$/m);
      assert.match(list, /^drwxr-xr-x 33\/33 .* srv\/www\/$/m);
      assert.match(list, / \.wh\.gone$/m);
      assert.match(list, / opq\/\.wh\.\.wh\.\.opq$/m);
      assert.doesNotMatch(list, / stacker\//);
      if (packedInside) assert.match(list, /^-rw------- 1000\/1000 .* s$/m);
      // Nothing of the build is left in the roots dir but extracted layers.
      const roots = await runAsUser('ls', ['-a', 'roots'], here.dir);
      assert.deepEqual(roots.stdout.split('\n').filter((n) => n !== '' && n !== '.' && n !== '..' && !n.startsWith('sha256_') && n !== '.empty'), []);
      // A no-op after it rebuilds nothing, in either.
      for (const p of [here, inside]) assert.deepEqual(builtLayers((await runStacker(p, ['build'], { env: SDE })).stdout), []);
    });
  }

  test('the user\'s umask does not change a layer: runs get 022 from the user\'s process and from a builder inside', async () => {
    const run = 'echo hi > /f1 && mkdir /d1 && cat /srv/bound/f > /srv-copy';
    const withBind = async (): Promise<Project> => {
      const p = await project(run);
      await p.write('host/f', 'from the host\n');
      await p.write('stacker.yaml', (await readFile(p.path('stacker.yaml'), 'utf8')).replace('app:\n', `app:\n  binds:\n    - ${p.path('host')} -> /srv/bound\n`));
      return p;
    };
    const [here, inside] = await Promise.all([withBind(), withBind()]);
    const a = await rebuild(here, {}, '077');
    const b = await rebuild(inside, { STACKER_BUILD_INSIDE: '1' }, '077');
    assert.equal(a.evs.find((e) => e.type === 'build-planned')?.inProcess, true);
    const list = await topLayer(here);
    assert.match(list, /^-rw-r--r-- 0\/0 .* f1$/m);
    assert.match(list, /^drwxr-xr-x 0\/0 .* d1\/$/m);
    // (The manifests differ: each file names its own bind source.)
    assert.equal(await topLayerDigest(here), await topLayerDigest(inside));
  });

  test('a mount point under an image symlink to a host path is made inside the rootfs, never on the host', async () => {
    // `mid` leaves /home/app (0700, another owner: the user cannot read it from outside) holding
    // `work` -> an absolute path that exists on the host; `app` binds a file below it.
    const p = await makeProject({ 'victim/config.json': 'do not touch\n', 'host/f': 'bound\n' });
    await p.copyIn(await busyboxLayout(), 'base/oci');
    const file = (appRun: string) => `mid:
  from: {type: oci, url: base/oci:busybox}
  run: |
    mkdir -p /home/app
    ln -s ${p.path('victim')} /home/app/work
    chown -h 5:5 /home/app /home/app/work
    chmod 700 /home/app
app:
  from: {type: built, tag: mid}
${appRun === 'true' ? '' : `  binds:
    - ${p.path('host/f')} -> /home/app/work/config.json
    - ${p.path('host')} -> /home/app/work/sub/dir
`}  run: ${appRun}
`;
    await p.write('stacker.yaml', file('true'));
    const first = await runStacker(p, ['build']);
    assert.equal(first.code, 0, first.stderr + first.stdout);
    await p.write('stacker.yaml', file('cat /home/app/work/config.json'));
    // bubblewrap cannot bind through an absolute symlink of the image (it would resolve it on
    // the host): the build fails either way; what matters is that nothing on the host changed.
    for (const env of [{ STACKER_TRACE: '1' }, { STACKER_BUILD_INSIDE: '1' }] as Record<string, string>[]) {
      const r = await runStacker(p, ['build'], { env });
      assert.notEqual(r.code, 0, r.stdout);
      if (env.STACKER_TRACE !== undefined) assert.match(r.stderr, /building here/);
      assert.equal(await readFile(p.path('victim/config.json'), 'utf8'), 'do not touch\n');
      const ls = await runAsUser('ls', ['-A', p.path('victim')]);
      assert.equal(ls.stdout, 'config.json\n', 'nothing made in the host directory');
    }
  });

  test('a failing run step from the user\'s process fails the build with its status, keeps the last image, and the next build works', async () => {
    const p = await project('echo failing; exit 125');
    const before = await appManifest(p);
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    // A run's status of 125 is the script's, not mistaken for the sandbox's own failure.
    assert.match(r.stderr, /STACKER_E_RUN_FAILED.*exit status 125/);
    assert.match(r.stdout, /failing/);
    // `base` is re-tagged (its stacker_yaml annotation holds the edited file); `app` keeps its image.
    assert.equal(await appManifest(p), before);
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(p.dir), 'nothing mounted under the project');
    await p.write('stacker.yaml', yaml('echo fixed > /fixed'));
    const again = await runStacker(p, ['build']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(builtLayers(again.stdout), ['app']);
  });

  test('a bind dest and a mount point the image lacks are made for the run and left out of the layer', async () => {
    const p = await project('ls -d /proc /sys /dev /etc/resolv.conf >/dev/null && cat /srv/bound/f > /from-bind');
    await p.write('host/f', 'from the host\n');
    const text = (await readFile(p.path('stacker.yaml'), 'utf8')).replace('app:\n', `app:\n  binds:\n    - ${p.path('host')} -> /srv/bound\n`);
    await p.write('stacker.yaml', text);
    const a = await rebuild(p, {});
    assert.equal(a.evs.find((e) => e.type === 'build-planned')?.inProcess, true);
    const ls = await runAsUser('sh', ['-c', 'umoci unpack --rootless --image oci:app u >/dev/null && cd u/rootfs && cat from-bind; test -e srv || echo no-srv; test -e etc/resolv.conf || echo no-resolv.conf'], p.dir);
    assert.equal(ls.stdout, 'from the host\nno-srv\nno-resolv.conf\n', ls.stderr);
  });
});
