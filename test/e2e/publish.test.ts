import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry as startAuthRegistry } from '../helpers/registry.js';
import { busyboxLayout, cleanup, exec, makeProject, runAsUser, runStacker, startRegistry, type LocalRegistry, type Project } from './rig.js';

interface IndexJson { manifests: { digest: string; annotations?: Record<string, string> }[] }
interface Manifest { config: { digest: string }; layers: { digest: string }[] }

async function tags(layout: string): Promise<Map<string, string>> {
  const idx = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as IndexJson;
  return new Map(idx.manifests.map((m) => [m.annotations?.['org.opencontainers.image.ref.name'] ?? '', m.digest]));
}

async function manifestOf(layout: string, digest: string): Promise<Manifest> {
  return JSON.parse(await readFile(join(layout, 'blobs', 'sha256', digest.slice(7)), 'utf8')) as Manifest;
}

/** `skopeo inspect --raw` of a registry image: its manifest digest (as served) and layers, or undefined. */
async function remote(ref: string, creds?: string): Promise<{ digest: string; layers: string[] } | undefined> {
  const r = await exec('skopeo', ['inspect', '--tls-verify=false', ...(creds !== undefined ? ['--creds', creds] : []), ref]);
  if (r.code !== 0) return undefined;
  const j = JSON.parse(r.stdout) as { Digest: string; Layers: string[] };
  return { digest: j.Digest, layers: j.Layers };
}

const yaml = (twoRun: string): string => `
pone:
  from: {type: oci, url: base/oci:busybox}
  run: echo one > /one
ptwo:
  from: {type: built, tag: pone}
  run: ${twoRun}
hidden:
  from: {type: built, tag: pone}
  build_only: true
  run: echo hidden > /hidden
`;

describe('stacker publish (unprivileged, end to end, local registry)', () => {
  let registry: LocalRegistry;
  let p: Project;
  before(async () => {
    registry = await startRegistry();
    p = await makeProject({ 'stacker.yaml': yaml('echo two > /two') });
    await p.copyIn(await busyboxLayout(), 'base/oci');
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });
  after(async () => {
    await registry?.stop();
    await cleanup();
  });

  test('two layers, two tags: the registry serves the local manifests, byte for byte; build_only is skipped', async () => {
    const url = `docker://${registry.host}/stk`;
    const r = await runStacker(p, ['publish', '--url', url, '--tag', 'v1', '--tag', 'v2', '--skip-tls']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^will not publish: stacker\.yaml build_only hidden$/m);
    const local = await tags(p.path('oci'));
    for (const name of ['pone', 'ptwo']) {
      const m = await manifestOf(p.path('oci'), local.get(name)!);
      for (const tag of ['v1', 'v2']) {
        const got = await remote(`${url}/${name}:${tag}`);
        assert.ok(got, `${name}:${tag} is in the registry`);
        assert.equal(got.digest, local.get(name));
        assert.deepEqual(got.layers, m.layers.map((l) => l.digest));
      }
    }
    assert.equal(await remote(`${url}/hidden:v1`), undefined);
  });

  test('--show-only prints what would be published and pushes nothing; --image filters', async () => {
    const url = `docker://${registry.host}/dry`;
    const r = await runStacker(p, ['publish', '--show-only', '--url', `${url}/`, '--tag', 't1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, [
      `would publish: stacker.yaml pone to ${url}/pone:t1`,
      `would publish: stacker.yaml ptwo to ${url}/ptwo:t1`,
      'will not publish: stacker.yaml build_only hidden',
      '',
    ].join('\n'));
    assert.equal(await remote(`${url}/pone:t1`), undefined);
    const one = await runStacker(p, ['publish', '--show-only', '--url', url, '--tag', 't1', '--image', 'ptwo']);
    assert.equal(one.stdout, `would publish: stacker.yaml ptwo to ${url}/ptwo:t1\n`);
  });

  test('publish to oci:<dir> copies blobs and tags <name>_<tag>; skopeo reads it', async () => {
    const r = await runStacker(p, ['publish', '--url', 'oci:exported', '--tag', 'v1', '--tag', 'v2']);
    assert.equal(r.code, 0, r.stderr);
    const local = await tags(p.path('oci'));
    const out = await tags(p.path('exported'));
    assert.deepEqual([...out.keys()].sort(), ['pone_v1', 'pone_v2', 'ptwo_v1', 'ptwo_v2']);
    for (const [t, d] of out) assert.equal(d, local.get(t.split('_')[0]!));
    const s = await runAsUser('skopeo', ['inspect', 'oci:exported:ptwo_v2'], p.dir);
    assert.equal(s.code, 0, s.stderr);
    assert.equal((JSON.parse(s.stdout) as { Digest: string }).Digest, local.get('ptwo'));
    const fsck = await runAsUser('umoci', ['stat', '--image', 'exported:ptwo_v1'], p.dir);
    assert.equal(fsck.code, 0, fsck.stderr);
  });

  test('usage errors: no tag, half credentials, bad url', async () => {
    const noTag = await runStacker(p, ['publish', '--url', 'oci:x']);
    assert.equal(noTag.code, 1);
    assert.match(noTag.stderr, /can't save OCI images in stacker\.yaml since list of tags is empty/);
    const half = await runStacker(p, ['publish', '--url', 'oci:x', '--tag', 't', '--username', 'u']);
    assert.equal(half.code, 1);
    assert.match(half.stderr, /--username and --password must be given together/);
    const bad = await runStacker(p, ['publish', '--url', 'ftp://x', '--tag', 't']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unsupported destination/);
    assert.equal(await p.exists('x'), false);
  });

  test('a stale layer is refused (nothing pushed) unless --force; after a build it publishes', async () => {
    const url = `docker://${registry.host}/stale`;
    const before = (await tags(p.path('oci'))).get('ptwo')!;
    await p.write('stacker.yaml', yaml('echo TWO > /two'));
    const refused = await runStacker(p, ['publish', '--url', url, '--tag', 'v1', '--skip-tls']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /layer needs to be rebuilt before publishing: ptwo/);
    assert.equal(await remote(`${url}/pone:v1`), undefined, 'nothing is pushed when a layer is stale');

    const forced = await runStacker(p, ['publish', '--url', url, '--tag', 'v1', '--skip-tls', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((await remote(`${url}/ptwo:v1`))?.digest, before);

    assert.equal((await runStacker(p, ['build'])).code, 0);
    const after = (await tags(p.path('oci'))).get('ptwo')!;
    assert.notEqual(after, before);
    const ok = await runStacker(p, ['publish', '--url', url, '--tag', 'v2', '--skip-tls']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await remote(`${url}/ptwo:v2`))?.digest, after);
  });

  test('--username/--password log in to a registry with basic auth', async () => {
    const reg = await startAuthRegistry({ auth: 'basic' });
    try {
      const url = `docker://${reg.url}/team`;
      const anon = await runStacker(p, ['publish', '--url', url, '--tag', 'a', '--skip-tls', '--image', 'pone']);
      assert.equal(anon.code, 1);
      assert.match(anon.stderr, /401|unauthorized|credentials|denied/i);
      const r = await runStacker(p, ['publish', '--url', url, '--tag', 'a', '--skip-tls', '--image', 'pone', '--username', reg.username, '--password', reg.password]);
      assert.equal(r.code, 0, r.stderr);
      const got = await remote(`${url}/pone:a`, `${reg.username}:${reg.password}`);
      assert.equal(got?.digest, (await tags(p.path('oci'))).get('pone'));
      assert.doesNotMatch(r.stdout + r.stderr, new RegExp(reg.password), 'the password is never printed');
    } finally {
      await reg.stop();
    }
  });

  test('-d/-p publishes every matching file (stacker\'s publish_multiple messages)', async () => {
    const q = await makeProject({
      'ocibuilds/sub1/stacker.yaml': 'layer1:\n  from: {type: oci, url: base/oci:busybox}\n  run: echo 1 > /1\n',
      'ocibuilds/sub3/stacker.yaml': 'layer3:\n  from: {type: oci, url: base/oci:busybox}\n  build_only: true\n  run: echo 3 > /3\n',
    });
    await q.copyIn(await busyboxLayout(), 'base/oci');
    for (const f of ['ocibuilds/sub1/stacker.yaml', 'ocibuilds/sub3/stacker.yaml']) assert.equal((await runStacker(q, ['build', '-f', f])).code, 0);
    const r = await runStacker(q, ['publish', '--show-only', '-d', 'ocibuilds', '--url', 'docker://docker-reg.fake.com/', '--tag', 'test1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^would publish: ocibuilds\/sub1\/stacker\.yaml layer1 to docker:\/\/docker-reg\.fake\.com\/layer1:test1$/m);
    assert.match(r.stdout, /^will not publish: ocibuilds\/sub3\/stacker\.yaml build_only layer3$/m);
  });
});
