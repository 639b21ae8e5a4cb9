/**
 * The registry client against a small local HTTP server that misbehaves on purpose: it lies about
 * blob and manifest content, sends more bytes than a descriptor says, redirects blob downloads to
 * another origin (which must not receive the Authorization header), and fails transiently.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sha256Digest } from '../../src/core/index.js';
import { parseImageRef, type DockerImageRef } from '../../src/oci/image-ref.js';
import { OciLayout } from '../../src/oci/layout.js';
import { MediaType } from '../../src/oci/media-types.js';
import { RegistryClient } from '../../src/oci/registry/client.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(handler: Handler): Promise<{ server: Server; host: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { server, host: `127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}` };
}

/** A tiny image: one layer, one config, one manifest. */
function image(layerText: string) {
  const layer = Buffer.from(layerText);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest(layer)] } }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: sha256Digest(config), size: config.length },
      layers: [{ mediaType: MediaType.ociLayer, digest: sha256Digest(layer), size: layer.length }],
    }),
  );
  return { layer, config, manifest, manifestDigest: sha256Digest(manifest), layerDigest: sha256Digest(layer) };
}

const good = image('the real layer');
let work: string;
const servers: Server[] = [];
const isCode = (code: string) => (e: unknown) => (e as { code?: string }).code === code;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'registry-hostile-'));
});
after(async () => {
  for (const s of servers) s.close();
  await rm(work, { recursive: true, force: true });
});

/**
 * A registry serving `good` under repository `x`, with per-test overrides of blob and manifest
 * bodies. Returns request log.
 */
async function fakeRegistry(opts: {
  blob?: (digest: string, req: IncomingMessage, res: ServerResponse) => boolean;
  manifest?: (ref: string, res: ServerResponse) => boolean;
  requireBasic?: string;
}) {
  const log: { url: string; auth: string | undefined }[] = [];
  const { server, host } = await serve((req, res) => {
    log.push({ url: req.url ?? '', auth: req.headers.authorization });
    if (opts.requireBasic !== undefined && req.headers.authorization !== opts.requireBasic) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fake"' });
      res.end();
      return;
    }
    const m = /^\/v2\/x\/(manifests|blobs)\/(.+)$/.exec(req.url ?? '');
    if (m === null) {
      res.writeHead(req.url === '/v2/' ? 200 : 404);
      res.end('{}');
      return;
    }
    const [, kind, ref] = m as unknown as [string, string, string];
    if (kind === 'manifests') {
      if (opts.manifest?.(ref, res)) return;
      res.writeHead(200, { 'Content-Type': MediaType.ociManifest, 'Docker-Content-Digest': good.manifestDigest });
      res.end(good.manifest);
      return;
    }
    if (opts.blob?.(ref, req, res)) return;
    const body = ref === sha256Digest(good.config) ? good.config : ref === good.layerDigest ? good.layer : undefined;
    res.writeHead(body === undefined ? 404 : 200);
    res.end(body);
  });
  servers.push(server);
  return { host, log, ref: (r: string) => parseImageRef(`docker://${host}/x:${r}`) as DockerImageRef };
}

const client = new RegistryClient({ insecure: true, env: {}, retryDelayMs: 1 });
const want = { os: 'linux', arch: 'amd64' };

test('a layer whose bytes do not match its digest is refused and not stored', async () => {
  const f = await fakeRegistry({
    blob: (d, _req, res) => {
      if (d !== good.layerDigest) return false;
      res.writeHead(200);
      res.end(Buffer.from('the evil layer')); // same length, other bytes
      return true;
    },
  });
  const store = await OciLayout.open(join(work, 'tampered'), { create: true });
  await assert.rejects(client.pull(f.ref('1'), store, want), isCode('STACKER_E_BLOB_CORRUPT'));
  assert.ok(!(await store.hasBlob(good.layerDigest)));
  assert.deepEqual(await readdir(join(store.dir, '.stacker-tmp')), []);
});

test('a blob longer than its descriptor is cut off and refused', async () => {
  const f = await fakeRegistry({
    blob: (d, _req, res) => {
      if (d !== good.layerDigest) return false;
      res.writeHead(200);
      res.write(good.layer);
      res.end(Buffer.alloc(1 << 20)); // a megabyte more than announced
      return true;
    },
  });
  const store = await OciLayout.open(join(work, 'long'), { create: true });
  await assert.rejects(client.pull(f.ref('1'), store, want), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'STACKER_E_BLOB_CORRUPT');
    assert.match(e.message, /more than the expected/);
    return true;
  });
});

test('a manifest that does not hash to the requested digest is refused', async () => {
  const other = image('another layer');
  const f = await fakeRegistry({
    manifest: (_ref, res) => {
      res.writeHead(200, { 'Content-Type': MediaType.ociManifest });
      res.end(other.manifest);
      return true;
    },
  });
  const store = await OciLayout.open(join(work, 'bad-manifest'), { create: true });
  const byDigest = parseImageRef(`docker://${f.host}/x@${good.manifestDigest}`) as DockerImageRef;
  await assert.rejects(client.pull(byDigest, store, want), isCode('STACKER_E_BLOB_CORRUPT'));
});

test('a Docker-Content-Digest header that disagrees with the body is refused', async () => {
  const f = await fakeRegistry({
    manifest: (_ref, res) => {
      res.writeHead(200, { 'Content-Type': MediaType.ociManifest, 'Docker-Content-Digest': sha256Digest('x') });
      res.end(good.manifest);
      return true;
    },
  });
  const store = await OciLayout.open(join(work, 'bad-header'), { create: true });
  await assert.rejects(client.pull(f.ref('1'), store, want), isCode('STACKER_E_BLOB_CORRUPT'));
});

test('blob redirects to another origin are followed without the Authorization header', async () => {
  const cdnSeen: (string | undefined)[] = [];
  const cdn = await serve((req, res) => {
    cdnSeen.push(req.headers.authorization);
    res.writeHead(200);
    res.end(good.layer);
  });
  servers.push(cdn.server);
  const basic = `Basic ${Buffer.from('u:secret').toString('base64')}`;
  const f = await fakeRegistry({
    requireBasic: basic,
    blob: (d, _req, res) => {
      if (d !== good.layerDigest) return false;
      res.writeHead(307, { Location: `http://${cdn.host}/storage/${d}` });
      res.end();
      return true;
    },
  });
  const store = await OciLayout.open(join(work, 'redirect'), { create: true });
  const c = new RegistryClient({ insecure: true, env: {}, credentials: { username: 'u', password: 'secret' } });
  const p = await c.pull(f.ref('1'), store, want);
  assert.equal(p.manifestDigest, good.manifestDigest);
  assert.deepEqual(cdnSeen, [undefined]);
  // ... while the registry itself did get it, after the challenge.
  assert.ok(f.log.some((r) => r.auth === basic));
  assert.equal(f.log[0]?.auth, undefined);
});

test('transient 503s and dropped connections are retried; a persistent failure is reported', async () => {
  let blobHits = 0;
  const f = await fakeRegistry({
    blob: (d, req, res) => {
      if (d !== good.layerDigest) return false;
      blobHits++;
      if (blobHits === 1) {
        res.writeHead(503);
        res.end();
        return true;
      }
      if (blobHits === 2) {
        req.socket.destroy(); // connection dropped mid-request
        return true;
      }
      return false;
    },
  });
  const store = await OciLayout.open(join(work, 'retry'), { create: true });
  const p = await client.pull(f.ref('1'), store, want);
  assert.equal(p.layers[0]?.digest, good.layerDigest);
  assert.equal(blobHits, 3);

  const always = await fakeRegistry({
    blob: (d, _req, res) => {
      if (d !== good.layerDigest) return false;
      res.writeHead(503);
      res.end();
      return true;
    },
  });
  const store2 = await OciLayout.open(join(work, 'retry2'), { create: true });
  await assert.rejects(client.pull(always.ref('1'), store2, want), isCode('STACKER_E_REGISTRY'));
  assert.equal(always.log.filter((r) => r.url.includes(good.layerDigest)).length, 3);
});

test('schema 1 manifests are refused with a clear message', async () => {
  const f = await fakeRegistry({
    manifest: (_ref, res) => {
      res.writeHead(200, { 'Content-Type': MediaType.dockerManifestV1Signed });
      res.end(JSON.stringify({ schemaVersion: 1, name: 'x', tag: '1', fsLayers: [] }));
      return true;
    },
  });
  const store = await OciLayout.open(join(work, 'v1'), { create: true });
  await assert.rejects(client.pull(f.ref('1'), store, want), isCode('STACKER_E_UNSUPPORTED_MANIFEST'));
});

test('manifests with malformed digests never reach the file system', async () => {
  const evil = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: 'sha256:../../../../etc/passwd', size: 1 },
      layers: [],
    }),
  );
  const f = await fakeRegistry({
    manifest: (_ref, res) => {
      res.writeHead(200, { 'Content-Type': MediaType.ociManifest });
      res.end(evil);
      return true;
    },
  });
  const store = await OciLayout.open(join(work, 'evil'), { create: true });
  await assert.rejects(client.pull(f.ref('1'), store, want), isCode('STACKER_E_BAD_MANIFEST'));
});
