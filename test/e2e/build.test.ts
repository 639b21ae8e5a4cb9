import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execOk, makeProject, runAsUser, runStacker, useBusyboxRegistry, builtLayers } from './rig.js';

interface IndexJson { manifests: { digest: string; annotations?: Record<string, string> }[] }

async function tags(dir: string): Promise<Map<string, string>> {
  const idx = JSON.parse(await readFile(join(dir, 'oci', 'index.json'), 'utf8')) as IndexJson;
  return new Map(idx.manifests.map((m) => [m.annotations?.['org.opencontainers.image.ref.name'] ?? '', m.digest]));
}


describe('stacker build (unprivileged, end to end)', () => {
  const reg = useBusyboxRegistry();

  const talk = (url: string) => `
app:
  from:
    type: docker
    url: ${url}
    insecure: true
  imports:
    - config.json
    - install.sh
  run: |
    mkdir -p /etc/app
    cp /stacker/imports/config.json /etc/app/config.json
    sh /stacker/imports/install.sh
  environment:
    B: "2"
    A: "1"
  cmd: /usr/bin/app
child:
  from:
    type: built
    tag: app
  run: echo child > /child
grandchild:
  from:
    type: built
    tag: child
  run: echo grandchild > /grandchild
sibling:
  from:
    type: built
    tag: app
  run: echo sibling > /sibling
`;

  test("the talk's example builds, umoci unpacks it, base layers keep the registry's digests, and rebuilds are incremental", async () => {
    const p = await makeProject({
      'stacker.yaml': talk(reg.busybox.url),
      'config.json': '{"greeting": "hello"}\n',
      'install.sh': 'mkdir -p /usr/share\necho installed > /usr/share/installed\nchown 1000:1000 /usr/share/installed\n',
    });
    const first = await runStacker(p, ['build']);
    assert.equal(first.code, 0, first.stderr + first.stdout);
    // Independent layers build at once (sibling alongside child), so the order may vary.
    assert.deepEqual(builtLayers(first.stdout).sort(), ['app', 'child', 'grandchild', 'sibling']);
    for (const l of ['app', 'child', 'grandchild', 'sibling']) assert.match(first.stdout, new RegExp(`^filesystem ${l} built successfully$`, 'm'));

    // An independent tool reads the result.
    await runAsUser('umoci', ['unpack', '--rootless', '--image', 'oci:grandchild', 'unpacked'], p.dir);
    const rootfs = join(p.dir, 'unpacked', 'rootfs');
    assert.equal(await readFile(join(rootfs, 'etc/app/config.json'), 'utf8'), '{"greeting": "hello"}\n');
    assert.equal(await readFile(join(rootfs, 'usr/share/installed'), 'utf8'), 'installed\n');
    assert.equal(await readFile(join(rootfs, 'grandchild'), 'utf8'), 'grandchild\n');
    await assert.rejects(readFile(join(rootfs, 'stacker/imports/config.json')));

    // Base layers are reused byte for byte: their digests equal the registry's.
    const remote = JSON.parse((await execOk('skopeo', ['inspect', '--tls-verify=false', reg.busybox.url])).stdout) as { Layers: string[] };
    const local = JSON.parse((await runAsUser('skopeo', ['inspect', 'oci:oci:app'], p.dir)).stdout) as { Layers: string[]; Env: string[] };
    assert.deepEqual(local.Layers.slice(0, remote.Layers.length), remote.Layers);
    assert.equal(local.Layers.length, remote.Layers.length + 1);
    assert.ok(local.Env.indexOf('A=1') < local.Env.indexOf('B=2'));

    // Nothing changed: nothing rebuilds.
    const tagsBefore = await tags(p.dir);
    const noop = await runStacker(p, ['build']);
    assert.equal(noop.code, 0, noop.stderr);
    assert.deepEqual(builtLayers(noop.stdout), []);
    for (const l of ['app', 'child', 'grandchild', 'sibling']) assert.match(noop.stdout, new RegExp(`^found cached layer ${l}$`, 'm'));
    assert.deepEqual(await tags(p.dir), tagsBefore);

    // Touching an import rebuilds nothing; editing one layer rebuilds it and its descendants only.
    await runAsUser('touch', ['install.sh'], p.dir);
    assert.deepEqual(builtLayers((await runStacker(p, ['build'])).stdout), []);
    await p.write('stacker.yaml', talk(reg.busybox.url).replace('echo child > /child', 'echo child2 > /child'));
    const edit = await runStacker(p, ['build']);
    assert.equal(edit.code, 0, edit.stderr);
    assert.deepEqual(builtLayers(edit.stdout), ['child', 'grandchild']);
    assert.match(edit.stdout, /^building child: run changed$/m);
    assert.match(edit.stdout, /^building grandchild: parent child was rebuilt$/m);

    // The hits (app, sibling) are tagged with a fresh manifest holding the new stacker_yaml, with
    // the same config and layers. It is derived: only the output layout holds it.
    const afterEdit = await tags(p.dir);
    const manifest = async (d: string) => JSON.parse(await readFile(join(p.dir, 'oci/blobs/sha256', d.slice(7)), 'utf8')) as { config: { digest: string }; annotations: Record<string, string> };
    assert.notEqual(afterEdit.get('sibling'), tagsBefore.get('sibling'));
    const fresh = await manifest(afterEdit.get('sibling')!);
    assert.equal(fresh.annotations['io.stackeroci.stacker.stacker_yaml'], talk(reg.busybox.url).replace('echo child > /child', 'echo child2 > /child'));
    assert.equal(fresh.config.digest, JSON.parse(await readFile(join(p.dir, '.stacker/store/blobs/sha256', tagsBefore.get('sibling')!.slice(7)), 'utf8')).config.digest);
    assert.equal(existsSync(join(p.dir, '.stacker/store/blobs/sha256', afterEdit.get('sibling')!.slice(7))), false);
    // The no-op after it writes nothing: no blob, no index.json.
    const files = async (dir: string) => Promise.all((await readdir(join(p.dir, dir))).sort().map(async (n) => `${n} ${(await stat(join(p.dir, dir, n))).ino}`));
    const written = async () => [
      String((await stat(join(p.dir, 'oci/index.json'))).mtimeMs),
      ...(await files('oci/blobs/sha256')),
      ...(await files('.stacker/store/blobs/sha256')),
    ];
    const beforeNoop = await written();
    assert.deepEqual(builtLayers((await runStacker(p, ['build'])).stdout), []);
    assert.deepEqual(await written(), beforeNoop);
    assert.deepEqual(await tags(p.dir), afterEdit);

    // A changed import rebuilds the layer that imports it and everything below.
    await p.write('install.sh', 'mkdir -p /usr/share\necho installed2 > /usr/share/installed\n');
    const imp = await runStacker(p, ['build']);
    assert.deepEqual(builtLayers(imp.stdout).sort(), ['app', 'child', 'grandchild', 'sibling']);
    assert.match(imp.stdout, /^building app: import install.sh changed \(\w{12} -> \w{12}\)$/m);
  });

  test('whiteouts across four chained layers', async () => {
    const p = await makeProject({
      'stacker.yaml': `
l1:
  from: {type: docker, url: ${reg.busybox.url}, insecure: true}
  run: |
    mkdir -p /d/sub /e
    echo 1 > /d/a; echo 1 > /d/sub/b; echo 1 > /f; echo keep > /e/k
l2:
  from: {type: built, tag: l1}
  run: |
    rm /d/a /f
    rm -rf /d/sub
l3:
  from: {type: built, tag: l2}
  run: |
    rm -rf /e; mkdir /e; echo new > /e/n
    echo back > /f
l4:
  from: {type: built, tag: l3}
  run: |
    rm -rf /d
`,
    });
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const ls = async (tag: string) => {
      await runAsUser('umoci', ['unpack', '--rootless', '--image', `oci:${tag}`, `u-${tag}`], p.dir);
      return (await runAsUser('find', ['.', '-path', './proc', '-prune', '-o', '-print'], join(p.dir, `u-${tag}`, 'rootfs'))).stdout;
    };
    const l2 = await ls('l2');
    assert.ok(!l2.includes('./d/a') && !l2.includes('./d/sub') && !l2.includes('./f\n') && l2.includes('./d\n'));
    const l3 = await ls('l3');
    assert.ok(l3.includes('./e/n') && !l3.includes('./e/k') && l3.includes('./f\n'));
    const l4 = await ls('l4');
    assert.ok(!l4.includes('./d\n') && l4.includes('./e/n'));
    // No spurious whiteouts: l3's layer holds exactly the opaque dir and its own files.
    const layer = (await runAsUser('sh', ['-c', 'skopeo inspect oci:oci:l3 | jq -r ".Layers[-1]"'], p.dir)).stdout.trim();
    const list = (await runAsUser('tar', ['-tzf', join('oci/blobs/sha256', layer.slice(7))], p.dir)).stdout.split('\n').filter(Boolean).sort();
    assert.deepEqual(list, ['e/', 'e/.wh..wh..opq', 'e/n', 'f']);
  });

  test('SOURCE_DATE_EPOCH: two clean builds are identical, and skopeo copy round-trips the digests', async () => {
    const files = { 'stacker.yaml': talk(reg.busybox.url), 'config.json': '{}\n', 'install.sh': 'echo x > /x\n' };
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const a = await makeProject(files);
    const b = await makeProject(files);
    assert.equal((await runStacker(a, ['build'], { env })).code, 0);
    assert.equal((await runStacker(b, ['build'], { env })).code, 0);
    assert.deepEqual(await tags(a.dir), await tags(b.dir));
    const digest = (await tags(a.dir)).get('grandchild')!;
    await execOk('skopeo', ['--insecure-policy', 'copy', '--dest-tls-verify=false', '--preserve-digests', `oci:${join(a.dir, 'oci')}:grandchild`, `docker://${reg.registry.host}/gc:1`]);
    const remote = JSON.parse((await execOk('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.registry.host}/gc:1`])).stdout) as { Digest: string };
    assert.equal(remote.Digest, digest);
    await execOk('skopeo', ['--insecure-policy', 'copy', '--src-tls-verify=false', '--preserve-digests', `docker://${reg.registry.host}/gc:1`, `oci:${join(a.dir, 'back')}:gc`]);
    const back = JSON.parse(await readFile(join(a.dir, 'back', 'index.json'), 'utf8')) as IndexJson;
    assert.equal(back.manifests[0]!.digest, digest);
  });

  test('a failing run names the layer, exits non-zero, leaves the output as it was, and the next build works', async () => {
    const p = await makeProject({
      'stacker.yaml': `
ok:
  from: {type: docker, url: ${reg.busybox.url}, insecure: true}
  run: echo ok > /ok
bad:
  from: {type: built, tag: ok}
  run: |
    echo before
    false
`,
    });
    const r = await runStacker(p, ['build']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /error\[STACKER_E_RUN_FAILED\]: run commands failed for image "bad" in ".*stacker.yaml": exit status 1/);
    const t = await tags(p.dir);
    assert.ok(t.has('ok') && !t.has('bad'));
    await p.write('stacker.yaml', (await readFile(p.path('stacker.yaml'), 'utf8')).replace('false', 'true'));
    const again = await runStacker(p, ['build']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(builtLayers(again.stdout), ['bad']);
  });
});
