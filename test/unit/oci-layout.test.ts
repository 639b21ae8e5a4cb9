import assert from 'node:assert/strict';
import { readdirSync, statSync, symlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sha256Digest, type Digest } from '../../src/core/index.js';
import { OciLayout, descriptorOf } from '../../src/oci/layout.js';
import { pullFromLayout } from '../../src/oci/layout-source.js';
import { MediaType } from '../../src/oci/media-types.js';
import type { ImageConfig, OciManifest } from '../../src/oci/types.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'oci-layout-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const isCode = (code: string) => (e: unknown) => (e as { code?: string }).code === code;

/** A one-layer image written into `l`, tagged `tag`. Returns the manifest descriptor. */
async function makeImage(l: OciLayout, tag: string, layerText: string) {
  const layer = await l.writeBlob(layerText);
  const config: ImageConfig = {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  };
  const cfg = await l.writeJson(config);
  const manifest: OciManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: descriptorOf(MediaType.ociConfig, cfg),
    layers: [descriptorOf(MediaType.ociLayer, layer)],
  };
  const m = await l.writeJson(manifest);
  const desc = descriptorOf(MediaType.ociManifest, m);
  await l.setTag(tag, desc);
  return { desc, layer, cfg };
}

test('create makes oci-layout, index.json and blobs/sha256; reopen works', async () => {
  const dir = join(root, 'new');
  await OciLayout.open(dir, { create: true });
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')).manifests, []);
  assert.deepEqual(await readdir(join(dir, 'blobs')), ['sha256']);
  const again = await OciLayout.open(dir, { create: false });
  assert.deepEqual(await again.listTags(), []);
});

test('an existing directory without index.json is refused with the stacker message', async () => {
  const dir = join(root, 'notlayout');
  await mkdir(dir);
  await writeFile(join(dir, 'x'), 'y');
  await assert.rejects(OciLayout.open(dir, { create: true }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'STACKER_E_NOT_OCI_LAYOUT');
    assert.equal(e.message, `parameter oci-dir="${dir}" exists but does not look like an OCI Layout.`);
    return true;
  });
  await assert.rejects(OciLayout.open(join(root, 'absent'), { create: false }), isCode('STACKER_E_OCI_LAYOUT_MISSING'));
});

test('writeBlob is content-addressed and idempotent; reads verify', async () => {
  const l = await OciLayout.open(join(root, 'blobs'), { create: true });
  const a = await l.writeBlob('hello');
  const b = await l.writeBlob(Buffer.from('hello'));
  assert.deepEqual(a, b);
  assert.equal(a.digest, sha256Digest('hello'));
  assert.equal(a.size, 5);
  assert.equal((await l.readBlob(a.digest, 5)).toString(), 'hello');
  assert.ok(await l.hasBlob(a.digest, 5));
  assert.ok(!(await l.hasBlob(a.digest, 6)));
  await assert.rejects(l.readBlob(a.digest, 6), isCode('STACKER_E_BLOB_CORRUPT'));
  await assert.rejects(l.readBlob(sha256Digest('absent')), isCode('STACKER_E_BLOB_MISSING'));
  // No temp files left behind.
  assert.deepEqual(await readdir(join(l.dir, '.stacker-tmp')), []);
});

test('a tampered blob fails every read: readBlob, readJson, openBlob, verifyBlob', async () => {
  const l = await OciLayout.open(join(root, 'tamper'), { create: true });
  const j = await l.writeJson({ hello: 'world' });
  const path = l.blobPath(j.digest);
  await writeFile(path, '{"hello":"World"}'); // same size, different content
  await assert.rejects(l.readBlob(j.digest, j.size), isCode('STACKER_E_BLOB_CORRUPT'));
  await assert.rejects(l.readJson(j.digest), isCode('STACKER_E_BLOB_CORRUPT'));
  await assert.rejects(l.verifyBlob(j.digest), isCode('STACKER_E_BLOB_CORRUPT'));
  await assert.rejects(async () => {
    for await (const _ of l.openBlob(j.digest, j.size)) void _;
  }, isCode('STACKER_E_BLOB_CORRUPT'));
});

test('writeBlobFrom refuses content that does not match what was expected', async () => {
  const l = await OciLayout.open(join(root, 'expect'), { create: true });
  const want = sha256Digest('abc');
  await assert.rejects(l.writeBlobFrom(Buffer.from('abd'), { digest: want, size: 3 }), isCode('STACKER_E_BLOB_CORRUPT'));
  await assert.rejects(l.writeBlobFrom(Buffer.from('abcd'), { digest: want, size: 3 }), isCode('STACKER_E_BLOB_CORRUPT'));
  assert.ok(!(await l.hasBlob(want)));
  async function* chunks() {
    yield Buffer.from('a');
    yield Buffer.from('bc');
  }
  assert.deepEqual(await l.writeBlobFrom(chunks(), { digest: want, size: 3 }), { digest: want, size: 3 });
});

test('importBlob links or copies, verifying the content', async () => {
  const l = await OciLayout.open(join(root, 'import'), { create: true });
  const src = join(root, 'import-src');
  await writeFile(src, 'layer bytes');
  const d = sha256Digest('layer bytes');
  await l.importBlob(src, d, 11);
  assert.equal((await l.readBlob(d, 11)).toString(), 'layer bytes');
  await writeFile(join(root, 'bad-src'), 'layer bytez');
  await assert.rejects(l.importBlob(join(root, 'bad-src'), sha256Digest('layer bytes x') as Digest, 11), isCode('STACKER_E_BLOB_CORRUPT'));
});

test('importBlob of a trusted file (one stacker digested itself) links it without reading it; its size is still checked', async () => {
  const l = await OciLayout.open(join(root, 'import-trusted'), { create: true });
  const src = join(root, 'trusted-src');
  await writeFile(src, 'layer bytez');
  // Not this content's digest: only a read would tell, and a trusted import does not read.
  const claimed = sha256Digest('layer bytes') as Digest;
  await l.importBlob(src, claimed, 11, { trusted: true });
  assert.equal(statSync(l.blobPath(claimed)).ino, statSync(src).ino, 'a hard link of the same file');
  await assert.rejects(l.importBlob(src, sha256Digest('other') as Digest, 12, { trusted: true }), isCode('STACKER_E_BLOB_CORRUPT'));
  await assert.rejects(l.importBlob(src, sha256Digest('another') as Digest, 11), isCode('STACKER_E_BLOB_CORRUPT'));
});

test('tags: set replaces in place, keeps order, appends new; setTags is one update; remove', async () => {
  const l = await OciLayout.open(join(root, 'tags'), { create: true });
  const a = await makeImage(l, 'a', 'A');
  const b = await makeImage(l, 'b', 'B');
  const c = await makeImage(l, 'c', 'C');
  assert.deepEqual(await l.listTags(), ['a', 'b', 'c']);
  await l.setTag('b', c.desc);
  assert.deepEqual(await l.listTags(), ['a', 'b', 'c']);
  assert.equal((await l.resolveTag('b'))?.digest, c.desc.digest);
  assert.equal((await l.resolveTag('b'))?.annotations?.['org.opencontainers.image.ref.name'], 'b');
  await l.setTags(new Map([['d', a.desc], ['a', b.desc]]));
  assert.deepEqual(await l.listTags(), ['a', 'b', 'c', 'd']);
  assert.equal((await l.resolveTag('a'))?.digest, b.desc.digest);
  assert.equal(await l.removeTag('c'), true);
  assert.equal(await l.removeTag('c'), false);
  assert.deepEqual(await l.listTags(), ['a', 'b', 'd']);
  assert.equal(await l.resolveTag('c'), undefined);
});

test('resolveTag sees every change of index.json, by this layout object or another (another process)', async () => {
  const dir = join(root, 'tag-cache');
  const l = await OciLayout.open(dir, { create: true });
  const a = await makeImage(l, 'a', 'A1');
  const b = await makeImage(l, 'b', 'B1');
  assert.equal((await l.resolveTag('a'))?.digest, a.desc.digest);
  const other = await OciLayout.open(dir, { create: false });
  await other.setTag('a', b.desc);
  assert.equal((await l.resolveTag('a'))?.digest, b.desc.digest);
  // Same size, written in place: only the mtime tells (and the first entry of a name wins).
  const text = await readFile(join(dir, 'index.json'), 'utf8');
  const swapped = text.replace(b.desc.digest.slice(7), a.desc.digest.slice(7));
  assert.equal(swapped.length, text.length);
  await writeFile(join(dir, 'index.json'), swapped);
  assert.equal((await l.resolveTag('a'))?.digest, a.desc.digest);
  // What it returns is the caller's to change.
  const d = (await l.resolveTag('a'))!;
  d.digest = b.desc.digest;
  assert.equal((await l.resolveTag('a'))?.digest, a.desc.digest);
});

test('concurrent setTag calls in one process lose no update', async () => {
  const l = await OciLayout.open(join(root, 'concurrent'), { create: true });
  const img = await makeImage(l, 'base', 'X');
  await Promise.all(Array.from({ length: 20 }, (_, i) => l.setTag(`t${i}`, img.desc)));
  const tags = await l.listTags();
  assert.equal(tags.length, 21);
  for (let i = 0; i < 20; i++) assert.ok(tags.includes(`t${i}`));
  // index.json is valid JSON and no temp file is left next to it
  JSON.parse(await readFile(join(l.dir, 'index.json'), 'utf8'));
  assert.deepEqual((await readdir(l.dir)).filter((n) => n.includes('tmp-')), []);
});

test('gc removes exactly the unreachable blobs', async () => {
  const l = await OciLayout.open(join(root, 'gc'), { create: true });
  const keep = await makeImage(l, 'keep', 'K');
  const drop = await makeImage(l, 'drop', 'D');
  const stray = await l.writeBlob('stray');
  await l.removeTag('drop');
  const res = await l.gc();
  assert.deepEqual(res.removed, [drop.desc.digest, drop.layer.digest, drop.cfg.digest, stray.digest].sort());
  for (const d of [keep.desc.digest, keep.layer.digest, keep.cfg.digest]) assert.ok(await l.hasBlob(d));
  for (const d of res.removed) assert.ok(!(await l.hasBlob(d)));
  assert.deepEqual((await l.gc()).removed, []);
});

test('gc takes the children of manifests noted by this process without reading them, and removes the same', async () => {
  const l = await OciLayout.open(join(root, 'gc-noted'), { create: true });
  const keep = await makeImage(l, 'keep', 'K2');
  const drop = await makeImage(l, 'drop', 'D2');
  l.noteManifest(keep.desc.digest, [keep.cfg, keep.layer].map((b) => ({ mediaType: 'x', digest: b.digest, size: b.size })));
  // Were the noted manifest read, this would fail the gc (a corrupt document stops it).
  await writeFile(l.blobPath(keep.desc.digest), 'not json');
  await l.removeTag('drop');
  assert.deepEqual((await l.gc()).removed, [drop.desc.digest, drop.layer.digest, drop.cfg.digest].sort());
  for (const d of [keep.layer.digest, keep.cfg.digest]) assert.ok(await l.hasBlob(d));
});

test('writeBlob with sync writes the same blob, idempotently', async () => {
  const l = await OciLayout.open(join(root, 'sync-write'), { create: true });
  const a = await l.writeBlob('{"a":1}', { sync: true });
  assert.deepEqual(a, await l.writeBlob('{"a":1}'));
  assert.deepEqual(await l.writeBlob('{"a":1}', { sync: true }), a);
  assert.equal((await l.readBlob(a.digest, a.size)).toString(), '{"a":1}');
  assert.deepEqual(readdirSync(join(l.dir, '.stacker-tmp')), []);
  // A damaged copy of the same size is replaced.
  await writeFile(l.blobPath(a.digest), '{"a":2}');
  await l.writeBlob('{"a":1}', { sync: true });
  assert.equal((await l.readBlob(a.digest, a.size)).toString(), '{"a":1}');
});

test('blobsPresent lists regular files only', async () => {
  const l = await OciLayout.open(join(root, 'present'), { create: true });
  const a = await l.writeBlob('x');
  const dangling = sha256Digest('gone');
  symlinkSync('/nonexistent', l.blobPath(dangling));
  assert.deepEqual([...l.blobsPresent()], [a.digest]);
});

test('gc follows indexes', async () => {
  const l = await OciLayout.open(join(root, 'gc-index'), { create: true });
  const img = await makeImage(l, 'tmp', 'I');
  const idx = await l.writeJson({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [img.desc] });
  await l.removeTag('tmp');
  await l.setTag('multi', descriptorOf(MediaType.ociIndex, idx));
  assert.deepEqual((await l.gc()).removed, []);
});

test('pullFromLayout copies a tagged image into another store, verified', async () => {
  const src = await OciLayout.open(join(root, 'src'), { create: true });
  const img = await makeImage(src, 'busybox:1.0', 'BUSYBOX');
  const store = await OciLayout.open(join(root, 'store'), { create: true });
  const p = await pullFromLayout(src.dir, 'busybox:1.0', store, { os: 'linux', arch: 'amd64' });
  assert.equal(p.manifestDigest, img.desc.digest);
  assert.deepEqual(p.layers.map((x) => x.digest), [img.layer.digest]);
  assert.equal(p.config.architecture, 'amd64');
  for (const d of [img.desc.digest, img.layer.digest, img.cfg.digest]) assert.ok(await store.hasBlob(d));
  await assert.rejects(pullFromLayout(src.dir, 'nope', store, { os: 'linux', arch: 'amd64' }), isCode('STACKER_E_TAG_NOT_FOUND'));
  // A tampered layer in the source is refused.
  const src2 = await OciLayout.open(join(root, 'src2'), { create: true });
  const img2 = await makeImage(src2, 't', 'GOOD');
  await writeFile(src2.blobPath(img2.layer.digest), 'EVIL');
  await assert.rejects(pullFromLayout(src2.dir, 't', store, { os: 'linux', arch: 'amd64' }), isCode('STACKER_E_BLOB_CORRUPT'));
  assert.ok(!(await store.hasBlob(img2.layer.digest)));
});
