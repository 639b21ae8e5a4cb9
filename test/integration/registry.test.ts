/**
 * The registry client against a real registry (Debian's docker-registry on 127.0.0.1), with
 * skopeo as the independent reference: what skopeo pushes we pull with equal digests, and what
 * we push skopeo reads back with equal digests.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Digest } from '../../src/core/index.js';
import { parseImageRef, type DockerImageRef } from '../../src/oci/image-ref.js';
import { OciLayout } from '../../src/oci/layout.js';
import { MediaType } from '../../src/oci/media-types.js';
import { RegistryClient } from '../../src/oci/registry/client.js';
import {
  addImage,
  addIndex,
  initLayout,
  sha256Of,
  skopeo,
  skopeoInspect,
  skopeoRaw,
  tag,
  type HandImage,
} from '../helpers/registry-fixtures.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';

let reg: StartedRegistry;
let work: string;
let single: HandImage;
let amd: HandImage;
let arm: HandImage;
let indexDigest: string;
const client = new RegistryClient({ insecure: true, env: {}, retryDelayMs: 10 });
const docker = (path: string) => parseImageRef(`docker://${reg.url}/${path}`) as DockerImageRef;
const isCode = (code: string) => (e: unknown) => (e as { code?: string }).code === code;

before(async () => {
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'registry-test-'));
  const src = join(work, 'src');
  await initLayout(src);
  single = await addImage(src, 'amd64', [{ 'etc/hello': 'hello\n' }, { 'bin/tool': '#!/bin/sh\necho tool\n', 'etc/hello': 'again\n' }]);
  await tag(src, 'one', single.manifest);
  amd = await addImage(src, 'amd64', [{ 'arch': 'amd64\n' }]);
  arm = await addImage(src, 'arm64', [{ 'arch': 'arm64\n' }]);
  const idx = await addIndex(src, [
    { image: amd, arch: 'amd64' },
    { image: arm, arch: 'arm64', variant: 'v8' },
  ]);
  indexDigest = idx.digest;
  await tag(src, 'multi', idx);
  await skopeo('copy', '-q', '--dest-tls-verify=false', `oci:${src}:one`, `docker://${reg.url}/x:one`);
  await skopeo('copy', '-q', '--all', '--dest-tls-verify=false', `oci:${src}:multi`, `docker://${reg.url}/multi:1`);
  await skopeo('copy', '-q', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${src}:one`, `docker://${reg.url}/dockerfmt:1`);
});

after(async () => {
  await reg?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

test('pull of a skopeo-pushed image: digests equal what skopeo inspect reports', async () => {
  const info = await skopeoInspect(`docker://${reg.url}/x:one`);
  const store = await OciLayout.open(join(work, 'store1'), { create: true });
  const progress: number[] = [];
  const p = await client.pull(docker('x:one'), store, { os: 'linux', arch: 'amd64', onProgress: (e) => progress.push(e.bytes) });
  assert.equal(p.manifestDigest, info.Digest);
  assert.equal(p.manifestDigest, single.manifest.digest);
  assert.deepEqual(p.layers.map((l) => l.digest), info.Layers);
  assert.deepEqual(p.config.rootfs.diff_ids, single.diffIds);
  assert.deepEqual(p.config.config?.Cmd, ['/bin/sh']);
  assert.equal(p.configDescriptor.digest, single.config.digest);
  assert.ok(progress.length >= 2);
  for (const d of [p.manifestDigest, p.configDescriptor.digest, ...p.layers.map((l) => l.digest)]) {
    await store.verifyBlob(d);
  }
  // The manifest is stored byte for byte.
  assert.deepEqual(await store.readBlob(p.manifestDigest), await skopeoRaw(`docker://${reg.url}/x:one`));
});

test('pull by digest verifies the digest; resolve and head agree', async () => {
  const store = await OciLayout.open(join(work, 'store2'), { create: true });
  const p = await client.pull(`docker://${reg.url}/x@${single.manifest.digest}`, store, { os: 'linux', arch: 'amd64' });
  assert.equal(p.manifestDigest, single.manifest.digest);
  const r = await client.resolve(`docker://${reg.url}/x:one`, { os: 'linux', arch: 'amd64' });
  assert.equal(r.manifestDigest, single.manifest.digest);
  assert.equal(r.configDigest, single.config.digest);
  assert.equal(sha256Of(r.manifestBytes), r.manifestDigest);
  const h = await client.head(`docker://${reg.url}/x:one`);
  assert.equal(h?.digest, single.manifest.digest);
  assert.equal(await client.head(`docker://${reg.url}/x:absent`), undefined);
  await assert.rejects(client.pull(docker('x:absent'), store, { os: 'linux', arch: 'amd64' }), isCode('STACKER_E_IMAGE_NOT_FOUND'));
});

test('multi-arch index: the os/arch entry is picked; no match lists platforms', async () => {
  const raw = await skopeoRaw(`docker://${reg.url}/multi:1`);
  assert.equal(sha256Of(raw), indexDigest);
  const store = await OciLayout.open(join(work, 'store3'), { create: true });
  const a = await client.pull(docker('multi:1'), store, { os: 'linux', arch: 'arm64' });
  assert.equal(a.manifestDigest, arm.manifest.digest);
  assert.equal(a.indexDigest, indexDigest);
  assert.equal(a.config.architecture, 'arm64');
  const b = await client.pull(docker('multi:1'), store, { os: 'linux', arch: 'x86_64' });
  assert.equal(b.manifestDigest, amd.manifest.digest);
  await assert.rejects(client.pull(docker('multi:1'), store, { os: 'linux', arch: 's390x' }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'STACKER_E_NO_MATCHING_PLATFORM');
    assert.match(e.message, /available: linux\/amd64, linux\/arm64\/v8$/);
    return true;
  });
});

test('Docker schema 2 manifests: layer media types come back normalized, digests unchanged', async () => {
  const info = await skopeoInspect(`docker://${reg.url}/dockerfmt:1`);
  const store = await OciLayout.open(join(work, 'store4'), { create: true });
  const p = await client.pull(docker('dockerfmt:1'), store, { os: 'linux', arch: 'amd64' });
  assert.equal(p.manifestDigest, info.Digest);
  assert.equal(p.manifestDescriptor.mediaType, MediaType.dockerManifest);
  assert.equal(p.manifest.layers[0]?.mediaType, MediaType.dockerLayerGzip);
  assert.deepEqual(p.layers.map((l) => l.mediaType), [MediaType.ociLayerGzip, MediaType.ociLayerGzip]);
  assert.deepEqual(p.layers.map((l) => l.digest), info.Layers);
});

test('blobs already in the store are not downloaded again', async () => {
  const store = await OciLayout.open(join(work, 'store5'), { create: true });
  const seen: string[] = [];
  const counting: typeof fetch = (input, init) => {
    seen.push(String(input));
    return fetch(input, init);
  };
  const c = new RegistryClient({ insecure: true, env: {}, fetch: counting });
  await c.pull(docker('x:one'), store, { os: 'linux', arch: 'amd64' });
  const first = seen.filter((u) => u.includes('/blobs/')).length;
  assert.equal(first, 3); // config + 2 layers
  seen.length = 0;
  await c.pull(docker('x:one'), store, { os: 'linux', arch: 'amd64' });
  assert.equal(seen.filter((u) => u.includes('/blobs/')).length, 0);
});

test('push with our client, read back with skopeo: same digests; a second push uploads nothing', async () => {
  const l = await OciLayout.open(join(work, 'ours'), { create: true });
  const layer = await l.writeBlob(await readFile(join(work, 'src', 'blobs', 'sha256', single.layers[0]!.digest.slice(7))));
  const cfg = await l.writeJson({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [single.diffIds[0]] },
    config: { Env: ['A=1'] },
  });
  const m = await l.writeJson({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: cfg.digest, size: cfg.size },
    layers: [{ mediaType: MediaType.ociLayerGzip, digest: layer.digest, size: layer.size }],
  });
  await l.setTag('app', { mediaType: MediaType.ociManifest, digest: m.digest, size: m.size });
  const res = await client.push(l, 'app', docker('pushed:v1'));
  assert.equal(res.digest, m.digest);
  assert.deepEqual([...res.uploaded].sort(), [cfg.digest, layer.digest].sort());
  const info = await skopeoInspect(`docker://${reg.url}/pushed:v1`);
  assert.equal(info.Digest, m.digest);
  assert.deepEqual(info.Layers, [layer.digest]);
  // skopeo copies it back into a layout: the blobs are ours, byte for byte.
  const back = join(work, 'back');
  await skopeo('copy', '-q', '--src-tls-verify=false', `docker://${reg.url}/pushed:v1`, `oci:${back}:v1`);
  const backIdx = JSON.parse(await readFile(join(back, 'index.json'), 'utf8')) as { manifests: { digest: Digest }[] };
  assert.equal(backIdx.manifests[0]?.digest, m.digest);
  const again = await client.push(l, 'app', docker('pushed:v2'));
  assert.deepEqual(again.uploaded, []);
  assert.equal((await skopeoInspect(`docker://${reg.url}/pushed:v2`)).Digest, m.digest);
});

test('push of an index pushes every manifest; skopeo sees the same index digest', async () => {
  const src = await OciLayout.open(join(work, 'src'), { create: false });
  const res = await client.push(src, 'multi', docker('multi-ours:1'));
  assert.equal(res.digest, indexDigest);
  assert.equal(sha256Of(await skopeoRaw(`docker://${reg.url}/multi-ours:1`)), indexDigest);
  // Every child manifest is there by digest, byte for byte.
  for (const img of [amd, arm]) {
    assert.equal(sha256Of(await skopeoRaw(`docker://${reg.url}/multi-ours@${img.manifest.digest}`)), img.manifest.digest);
  }
  const archOf = async (arch: string) =>
    (JSON.parse(await skopeo('inspect', '--tls-verify=false', '--override-arch', arch, `docker://${reg.url}/multi-ours:1`)) as { Architecture: string })
      .Architecture;
  assert.equal(await archOf('arm64'), 'arm64');
  assert.equal(await archOf('amd64'), 'amd64');
});

test('insecure: false against a plain-http registry fails with a hint', async () => {
  const store = await OciLayout.open(join(work, 'store6'), { create: true });
  const c = new RegistryClient({ env: {}, tries: 1 });
  await assert.rejects(c.pull(docker('x:one'), store, { os: 'linux', arch: 'amd64' }), (e: Error & { code?: string; hint?: string }) => {
    assert.equal(e.code, 'STACKER_E_REGISTRY_UNREACHABLE');
    assert.match(e.hint ?? '', /insecure: true/);
    return true;
  });
});
