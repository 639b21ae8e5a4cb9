/**
 * Every base type, end to end, with the real CLI as the unprivileged rig user: `docker` from a
 * local registry (plain http, multi-arch index, a moved tag), `docker` with `oci:`, `oci`, `tar`
 * (local plain and gzip, http, stacker://), `built` and `scratch`; and the run environment:
 * `build_env`, `build_env_passthrough` and `binds`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addImage, addIndex, initLayout, tag as tagLayout } from '../helpers/registry-fixtures.js';
import { busyboxLayout, cleanup, execOk, makeProject, pushBusybox, pushLayout, runAsUser, runStacker, startRegistry, type LocalRegistry, type Project, type PushedImage, builtLayers, unpackImage } from './rig.js';



interface Inspect { Digest: string; Layers: string[]; Architecture: string; Os: string }

async function inspectLocal(p: Project, ref: string): Promise<Inspect> {
  const r = await runAsUser('skopeo', ['inspect', ref], p.dir);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Inspect;
}

describe('bases and the run environment (unprivileged, end to end)', () => {
  let registry: LocalRegistry;
  let busybox: PushedImage;
  let server: Server;
  let httpUrl = '';
  const served = new Map<string, Buffer>();
  before(async () => {
    registry = await startRegistry();
    busybox = await pushBusybox(registry);
    server = createServer((req, res) => {
      const body = served.get(new URL(req.url ?? '/', 'http://x').pathname);
      if (body === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    httpUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    if (server !== undefined) await new Promise((r) => server.close(r));
    await registry?.stop();
    await cleanup();
  });
  const fromReg = () => `from: {type: docker, url: ${busybox.url}, insecure: true}`;

  test('docker from the registry, docker with oci:<layout>:<tag>, oci (relative to the CWD), built and scratch', async () => {
    const p = await makeProject({
      'sub/stacker.yaml': `
reg:
  ${fromReg()}
  run: echo reg > /which
viaoci:
  from: {type: docker, url: "oci:layouts/bb:busybox"}
  run: echo viaoci > /which
oci:
  from: {type: oci, url: "layouts/bb:busybox"}
  run: echo oci > /which
child:
  from: {type: built, tag: oci}
  run: echo child >> /which
empty:
  from: {type: scratch}
  imports:
    - {path: note, dest: /note}
`,
      'sub/note': 'scratch\n',
    });
    await p.copyIn(await busyboxLayout(), 'layouts/bb');
    // From the project dir: oci paths are relative to the CWD, not to sub/stacker.yaml.
    const r = await runStacker(p, ['build', '-f', 'sub/stacker.yaml']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const bb = await inspectLocal(p, 'oci:layouts/bb:busybox');
    for (const [tag, which] of [['reg', 'reg\n'], ['viaoci', 'viaoci\n'], ['oci', 'oci\n'], ['child', 'oci\nchild\n']] as const) {
      const img = await inspectLocal(p, `oci:oci:${tag}`);
      assert.deepEqual(img.Layers.slice(0, bb.Layers.length), bb.Layers, `${tag} reuses the base layers byte for byte`);
      assert.equal(img.Layers.length, bb.Layers.length + (tag === 'child' ? 2 : 1));
      assert.equal(await readFile(join(await unpackImage(p, tag), 'which'), 'utf8'), which);
    }
    const empty = await inspectLocal(p, 'oci:oci:empty');
    assert.equal(empty.Layers.length, 1);
    assert.equal(await readFile(join(await unpackImage(p, 'empty'), 'note'), 'utf8'), 'scratch\n');
    // The base layer is extracted once into the roots dir, shared by every image.
    const config = JSON.parse((await runAsUser('skopeo', ['inspect', '--config', 'oci:layouts/bb:busybox'], p.dir)).stdout) as { rootfs: { diff_ids: string[] } };
    for (const d of config.rootfs.diff_ids) assert.ok((await stat(p.path(`roots/sha256_${d.slice(7)}`))).isDirectory());

    // A second build asks the registry and reads the layouts, and rebuilds nothing.
    const again = await runStacker(p, ['build', '-f', 'sub/stacker.yaml']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(builtLayers(again.stdout), []);

    // An oci path relative to the stacker.yaml's folder is not found.
    const q = await makeProject({ 'stacker.yaml': 'x:\n  from: {type: oci, url: "nothere:busybox"}\n' });
    const m = await runStacker(q, ['build']);
    assert.equal(m.code, 1, m.stdout + m.stderr);
    assert.match(m.stderr, /error\[STACKER_E_OCI_LAYOUT_MISSING\]: OCI layout ".*nothere" does not exist\n {2}--> stacker\.yaml:2:9/);
  });

  /** A project with a small rootfs and tarballs of it in t/ (plain.tar, gz.tar.gz, busybox.tar, busybox.tar.gz). */
  async function tarProject(yaml: string): Promise<Project> {
    const p = await makeProject({ 'rootfs/etc/hello': 'hello from tar\n', 'rootfs/usr/share/doc/x': 'doc\n', 'sub/stacker.yaml': yaml });
    await execOk('mkdir', ['-p', p.path('t')]);
    await execOk('tar', ['--owner=0', '--group=0', '-cf', p.path('t/plain.tar'), '-C', p.path('rootfs'), '.']);
    await execOk('tar', ['--owner=0', '--group=0', '-czf', p.path('t/gz.tar.gz'), '-C', p.path('rootfs'), '.']);
    const bb = await inspectLocal(p, `oci:${await busyboxLayout()}:busybox`);
    const blob = join(await busyboxLayout(), 'blobs/sha256', bb.Layers[0]!.slice(7));
    await execOk('cp', [blob, p.path('t/busybox.tar.gz')]);
    await execOk('sh', ['-c', 'gunzip -c "$1" > "$2"', 'sh', blob, p.path('t/busybox.tar')]);
    await execOk('chown', ['-R', `${p.rig.user.uid}:${p.rig.user.gid}`, p.path('t')]);
    return p;
  }

  async function assertTarImage(p: Project, t: string): Promise<void> {
    const img = await inspectLocal(p, `oci:oci:${t}`);
    assert.equal(img.Layers.length, 1, `${t}: the tarball is the image's single layer`);
    const root = await unpackImage(p, t);
    assert.equal(await readFile(join(root, 'etc/hello'), 'utf8'), 'hello from tar\n', t);
    assert.equal(await readFile(join(root, 'usr/share/doc/x'), 'utf8'), 'doc\n', t);
  }

  test('tar bases: local (relative to the CWD), over http, and from stacker://layer/path', async () => {
    const p = await tarProject(`
plain:
  from: {type: tar, url: t/plain.tar}
overhttp:
  from: {type: tar, url: ${httpUrl}/base.tar}
maker:
  ${fromReg()}
  build_only: true
  run: |
    mkdir -p /src/etc
    echo made > /src/etc/made
    tar -cf /out.tar -C /src .
fromlayer:
  from: {type: tar, url: stacker://maker/out.tar}
withrun:
  from: {type: tar, url: t/busybox.tar}
  run: echo ran > /ran
`);
    served.set('/base.tar', await readFile(p.path('t/plain.tar')));
    const r = await runStacker(p, ['build', '-f', 'sub/stacker.yaml']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    await assertTarImage(p, 'plain');
    await assertTarImage(p, 'overhttp');
    assert.equal(await readFile(join(await unpackImage(p, 'fromlayer'), 'etc/made'), 'utf8'), 'made\n');
    assert.equal(await readFile(join(await unpackImage(p, 'withrun'), 'ran'), 'utf8'), 'ran\n');
    assert.equal((await inspectLocal(p, 'oci:oci:withrun')).Layers.length, 1);

    // A changed tarball rebuilds its layer only; so does changed content behind the URL.
    assert.deepEqual(builtLayers((await runStacker(p, ['build', '-f', 'sub/stacker.yaml'])).stdout), []);
    await p.write('rootfs/etc/hello', 'hello again\n');
    await execOk('tar', ['--owner=0', '--group=0', '-cf', p.path('t/plain.tar'), '-C', p.path('rootfs'), '.']);
    const again = await runStacker(p, ['build', '-f', 'sub/stacker.yaml']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(builtLayers(again.stdout), ['plain']);
    assert.match(again.stdout, /^building plain: base tar .*changed.*$/m);
    assert.equal(await readFile(join(await unpackImage(p, 'plain'), 'etc/hello'), 'utf8'), 'hello again\n');
    served.set('/base.tar', await readFile(p.path('t/plain.tar')));
    const moved = await runStacker(p, ['build', '-f', 'sub/stacker.yaml']);
    assert.deepEqual(builtLayers(moved.stdout), ['overhttp']);
    assert.equal(await readFile(join(await unpackImage(p, 'overhttp'), 'etc/hello'), 'utf8'), 'hello again\n');

    // A missing local tarball is an error at the base.
    const q = await makeProject({ 'stacker.yaml': 'x:\n  from: {type: tar, url: nothere.tar}\n' });
    const m = await runStacker(q, ['build']);
    assert.equal(m.code, 1, m.stdout + m.stderr);
    assert.match(m.stderr, /error\[STACKER_E_BASE_MISSING\]: tar base nothere\.tar not found/);
  });

  test('tar bases compressed with gzip: local and over http', async () => {
    const p = await tarProject(`
gz:
  from: {type: tar, url: t/gz.tar.gz}
gzhttp:
  from: {type: tar, url: ${httpUrl}/base.tgz}
withrun:
  from: {type: tar, url: t/busybox.tar.gz}
  run: echo ran > /ran
`);
    served.set('/base.tgz', await readFile(p.path('t/gz.tar.gz')));
    const r = await runStacker(p, ['build', '-f', 'sub/stacker.yaml']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    await assertTarImage(p, 'gz');
    await assertTarImage(p, 'gzhttp');
    assert.equal(await readFile(join(await unpackImage(p, 'withrun'), 'ran'), 'utf8'), 'ran\n');
  });

  test('a multi-arch index in the registry: the layer picks its os/arch', async () => {
    const layout = await mkdtemp(join(tmpdir(), 'multi-'));
    try {
      await initLayout(layout);
      const amd = await addImage(layout, 'amd64', [{ arch: 'amd64\n' }]);
      const arm = await addImage(layout, 'arm64', [{ arch: 'arm64\n' }]);
      await tagLayout(layout, 'multi', await addIndex(layout, [{ image: amd, arch: 'amd64' }, { image: arm, arch: 'arm64' }]));
      await execOk('skopeo', ['--insecure-policy', 'copy', '--quiet', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}:multi`, `docker://${registry.host}/multi:1`]);
      const p = await makeProject({
        'stacker.yaml': `
onarm:
  from: {type: docker, url: docker://${registry.host}/multi:1, insecure: true}
  arch: arm64
onamd:
  from: {type: docker, url: docker://${registry.host}/multi:1, insecure: true}
  arch: amd64
`,
      });
      const r = await runStacker(p, ['build']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      for (const [t, img, arch] of [['onarm', arm, 'arm64'], ['onamd', amd, 'amd64']] as const) {
        const i = await inspectLocal(p, `oci:oci:${t}`);
        assert.equal(i.Architecture, arch);
        assert.deepEqual(i.Layers, img.layers.map((l) => l.digest));
        assert.equal(await readFile(join(await unpackImage(p, t), 'arch'), 'utf8'), `${arch}\n`);
      }
    } finally {
      await rm(layout, { recursive: true, force: true });
    }
  });

  test('a moved tag in the registry rebuilds the layer, naming the base', async () => {
    const moving = await pushBusybox(registry, 'moving', '1');
    const p = await makeProject({
      'stacker.yaml': `l:\n  from: {type: docker, url: ${moving.url}, insecure: true}\n  run: echo l > /l\n`,
    });
    assert.equal((await runStacker(p, ['build'])).code, 0);
    assert.deepEqual(builtLayers((await runStacker(p, ['build'])).stdout), []);

    // Push another image (busybox plus a layer, built by stacker) under the same tag.
    const q = await makeProject({ 'stacker.yaml': `other:\n  ${fromReg()}\n  run: echo other > /other\n` });
    assert.equal((await runStacker(q, ['build'])).code, 0);
    const moved = await pushLayout(registry, join(q.dir, 'oci'), 'other', 'moving', '1');
    assert.notEqual(moved.digest, moving.digest);

    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const short = (d: string) => d.slice(7, 19);
    // The reason names the base and both manifest digests.
    const line = /^building l: (.*)$/m.exec(r.stdout)?.[1] ?? '';
    assert.ok(line.startsWith(`base ${moving.url}`) && line.includes(short(moved.digest)) && line.includes(short(moving.digest)), r.stdout);
    const root = await unpackImage(p, 'l');
    assert.equal(await readFile(join(root, 'other'), 'utf8'), 'other\n');
    assert.equal(await readFile(join(root, 'l'), 'utf8'), 'l\n');
  });

  test('build_env and build_env_passthrough are visible in run', async () => {
    const p = await makeProject({
      'stacker.yaml': `
envs:
  ${fromReg()}
  build_env:
    FOO: bar
    EMPTY: ""
    MY_OVERRIDDEN: from-yaml
  build_env_passthrough: ["MY_.*", "TERM"]
  run: env | sort > /env
defaults:
  ${fromReg()}
  run: env | sort > /env
`,
    });
    const env = { MY_VAR: 'hi', MY_OVERRIDDEN: 'from-host', OTHER_VAR: 'no', TERM: 'xterm-e2e', ftp_proxy: 'http://proxy.invalid:3128' };
    const r = await runStacker(p, ['build'], { env });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const vars = async (t: string) => new Map((await readFile(join(await unpackImage(p, t), 'env'), 'utf8')).split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const e = await vars('envs');
    assert.equal(e.get('FOO'), 'bar');
    assert.equal(e.get('MY_VAR'), 'hi');
    assert.equal(e.get('MY_OVERRIDDEN'), 'from-yaml', 'build_env overrides a passed-through value');
    assert.equal(e.get('TERM'), 'xterm-e2e');
    assert.equal(e.get('STACKER_LAYER_NAME'), 'envs');
    assert.equal(e.get('PATH'), '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    for (const k of ['EMPTY', 'OTHER_VAR', 'ftp_proxy', 'USER', 'LOGNAME']) assert.equal(e.has(k), false, k);
    const d = await vars('defaults');
    assert.equal(d.get('TERM'), 'xterm-e2e');
    assert.equal(d.get('ftp_proxy'), 'http://proxy.invalid:3128');
    assert.equal(d.get('STACKER_LAYER_NAME'), 'defaults');
    for (const k of ['MY_VAR', 'OTHER_VAR', 'FOO']) assert.equal(d.has(k), false, k);
  });

  test('binds: read-write host paths, written back to the host, never in the image; a missing source fails', async () => {
    const p = await makeProject({
      'stacker.yaml': `
b:
  ${fromReg()}
  binds:
    - out -> /hostout
    - {source: data.txt, dest: /etc/data.txt}
  run: |
    echo written > /hostout/result
    cat /etc/data.txt > /copied
`,
      'out/.keep': '',
      'data.txt': 'host data\n',
    });
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(await readFile(p.path('out/result'), 'utf8'), 'written\n');
    assert.equal((await stat(p.path('out/result'))).uid, p.rig.user.uid, 'root in the build is the user on the host');
    const root = await unpackImage(p, 'b');
    assert.equal(await readFile(join(root, 'copied'), 'utf8'), 'host data\n');
    assert.equal(existsSync(join(root, 'hostout')), false);
    assert.equal(existsSync(join(root, 'etc/data.txt')), false);
    const again = await runStacker(p, ['build']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^building b: rebuilding cached layer due to use of binds in stacker file$/m);

    const q = await makeProject({ 'stacker.yaml': `b:\n  ${fromReg()}\n  binds:\n    - nothere -> /x\n  run: true\n` });
    const m = await runStacker(q, ['build']);
    assert.equal(m.code, 1, m.stdout + m.stderr);
    const expect = `error[STACKER_E_BIND_SOURCE]: bind mount source "${q.path('nothere')}" does not exist, refusing bind mount\n  --> stacker.yaml:4:7`;
    assert.ok(m.stderr.includes(expect), `stderr:\n${m.stderr}\nexpected:\n${expect}`);
  });
});
