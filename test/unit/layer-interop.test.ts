/**
 * Interoperability of packed layers with independent OCI tools: a multi-member gzip layer (about
 * 5 MB of mixed data, so several 1 MiB members) is placed in a hand-written OCI image layout,
 * then `umoci unpack --rootless`, `skopeo inspect` and `skopeo copy` (to another layout, and
 * decompressed to a dir: which must reproduce our diff_id) must accept it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { native } from '../../src/oci/layer/native.js';
import { packLayer, type PackResult } from '../../src/oci/layer/pack.js';

let base: string;
let layout: string;
let layer: PackResult;
let bigContent: Buffer;

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function mixedData(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += 64) {
    const h = createHash('sha256').update(String(i)).digest();
    h.copy(out, i); // half random-ish, half text: compresses to about 60%
    out.write(`line ${i} of the big file\n`.padEnd(32, '.'), i + 32);
  }
  return out;
}

function putBlob(dir: string, data: Buffer | string): { digest: string; size: number } {
  const digest = sha(data);
  writeFileSync(join(dir, 'blobs/sha256', digest.slice(7)), data);
  return { digest, size: Buffer.byteLength(data) };
}

function writeLayout(dir: string, blobFile: string, r: PackResult): void {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  copyFileSync(blobFile, join(dir, 'blobs/sha256', r.digest.slice(7)));
  const config = putBlob(dir, JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [r.diffId] }, history: [{ created_by: 'stacker layer-interop test' }],
  }));
  const manifest = putBlob(dir, JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: r.mediaType, digest: r.digest, size: r.size }],
  }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'tag' } }],
  }));
}

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'stacker-layer-interop-'));
  const upper = join(base, 'upper');
  mkdirSync(join(upper, 'usr/share/data'), { recursive: true });
  bigContent = mixedData(5 << 20);
  writeFileSync(join(upper, 'usr/share/data/big'), bigContent);
  writeFileSync(join(upper, 'usr/share/data/small'), 'small\n');
  execFileSync('ln', [join(upper, 'usr/share/data/small'), join(upper, 'usr/share/data/small-link')]);
  execFileSync('ln', ['-s', 'data/big', join(upper, 'usr/share/big-link')]);
  native().mknod(join(upper, 'usr/gone'), 0o020000, 0, 0);
  mkdirSync(join(upper, 'opq'));
  writeFileSync(join(upper, 'opq/x'), 'x');
  native().lsetxattr(join(upper, 'opq'), 'user.overlay.opaque', Buffer.from('y'));
  const blobFile = join(base, 'layer.tar.gz');
  const r = await packLayer(upper, { outFile: blobFile, sourceDateEpoch: 1_700_000_000 });
  assert.ok(r);
  layer = r;
  assert.ok(layer.uncompressedSize > 4 * (1 << 20), 'several 1 MiB members');
  layout = join(base, 'oci');
  writeLayout(layout, blobFile, layer);
});
after(() => rmSync(base, { recursive: true, force: true }));

test('umoci unpack --rootless accepts the multi-member layer', () => {
  const bundle = join(base, 'bundle');
  execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:tag`, bundle], { stdio: 'pipe' });
  const rootfs = join(bundle, 'rootfs');
  assert.ok(readFileSync(join(rootfs, 'usr/share/data/big')).equals(bigContent));
  assert.equal(lstatSync(join(rootfs, 'usr/share/data/small')).ino, lstatSync(join(rootfs, 'usr/share/data/small-link')).ino);
  assert.equal(readlinkSync(join(rootfs, 'usr/share/big-link')), 'data/big');
  assert.equal(readFileSync(join(rootfs, 'opq/x'), 'utf8'), 'x');
  assert.throws(() => lstatSync(join(rootfs, 'usr/gone')), /ENOENT/, 'a whiteout is not materialised');
  assert.throws(() => lstatSync(join(rootfs, 'usr/.wh.gone')), /ENOENT/);
});

test('skopeo inspect reads the layout', () => {
  const out = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${layout}:tag`], { encoding: 'utf8' })) as { Layers: string[]; Os: string };
  assert.deepEqual(out.Layers, [layer.digest]);
  assert.equal(out.Os, 'linux');
});

test('skopeo copy keeps the blob, and decompressing it reproduces the diff_id', () => {
  const copy = join(base, 'copy');
  execFileSync('skopeo', ['copy', '--quiet', `oci:${layout}:tag`, `oci:${copy}:tag`], { stdio: 'pipe' });
  assert.ok(readFileSync(join(copy, 'blobs/sha256', layer.digest.slice(7))).length === layer.size);
  // skopeo ignores --dest-decompress between two oci: layouts; the dir: transport honours it.
  const plain = join(base, 'plain');
  execFileSync('skopeo', ['copy', '--quiet', '--dest-decompress', `oci:${layout}:tag`, `dir:${plain}`], { stdio: 'pipe' });
  const manifest = JSON.parse(readFileSync(join(plain, 'manifest.json'), 'utf8')) as { layers: { digest: string; size: number }[] };
  assert.equal(manifest.layers[0]?.digest, layer.diffId, 'skopeo decompressed every member: the digest is our diff_id');
  assert.equal(manifest.layers[0]?.size, layer.uncompressedSize);
  assert.equal(sha(readFileSync(join(plain, layer.diffId.slice(7)))), layer.diffId);
});
