import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256Digest, type Digest } from '../../src/core/index.js';
import { buildManifest } from '../../src/engine/image-config.js';
import { fromRecord, toRecord } from '../../src/engine/index-adapter.js';
import { LONG_ANNOTATION, type NodeResult } from '../../src/engine/node-result.js';
import { MediaType } from '../../src/oci/media-types.js';

const d = (c: string): Digest => `sha256:${c.repeat(64)}` as Digest;
const config = { mediaType: MediaType.ociConfig, digest: d('c'), size: 10 };
const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('1'), size: 20 };

function result(over: Partial<NodeResult> = {}): NodeResult {
  const text = 'x: y\n'.repeat(100);
  return {
    manifest: { mediaType: MediaType.ociManifest, digest: d('a'), size: 30 },
    config, layers: [layer], diffIds: [d('e')],
    annotations: { 'io.stackeroci.stacker.stacker_yaml': text, 'io.stackeroci.stacker.stacker_version': '0.1.0', 'org.example.short': 'v' },
    manifestDoc: buildManifest(config, [layer], {}),
    ...over,
  };
}

test('the index keeps long annotation values (the file text) as digests, and a plain manifest as a flag', () => {
  const r = result();
  const rec = toRecord(d('k'), 'app', '{}', r, false);
  const extra = rec.extra as Record<string, unknown>;
  assert.ok(!JSON.stringify(extra).includes('x: y'), 'no copy of the file text');
  assert.deepEqual(extra.annotationDigests, { 'io.stackeroci.stacker.stacker_yaml': sha256Digest(r.annotations['io.stackeroci.stacker.stacker_yaml']!) });
  assert.equal(extra.manifestPlain, true);
  assert.equal(extra.manifest, undefined);

  const back = fromRecord({ ...rec, manifestDigest: rec.manifestDigest, configDigest: rec.configDigest, buildOnly: false, createdAt: 0 });
  assert.deepEqual(back.annotations, { 'io.stackeroci.stacker.stacker_version': '0.1.0', 'org.example.short': 'v' });
  assert.deepEqual(back.annotationDigests, extra.annotationDigests);
  assert.deepEqual(back.manifestDoc, r.manifestDoc);
  assert.deepEqual([back.config, back.layers, back.manifest], [r.config, r.layers, r.manifest]);
  // A value at the limit stays whole.
  const atLimit = 'v'.repeat(LONG_ANNOTATION);
  assert.equal((toRecord(d('k'), 'app', '{}', result({ annotations: { k: atLimit } }), false).extra as { annotations: Record<string, string> }).annotations.k, atLimit);
});

test('a manifest with more than the record holds (a base layer with annotations) is kept whole', () => {
  const annotated = { ...layer, annotations: { 'org.example.layer': 'base' } };
  const doc = buildManifest(config, [annotated], {});
  const rec = toRecord(d('k'), 'app', '{}', result({ layers: [annotated], manifestDoc: doc }), false);
  assert.deepEqual((rec.extra as { manifest: unknown }).manifest, doc);
  assert.deepEqual(fromRecord({ ...rec, buildOnly: false, createdAt: 0 }).manifestDoc, doc);
});

test('records made before: whole annotations, no manifest copy', () => {
  const rec = { key: d('k'), layer: 'app', inputDocument: '', manifestDigest: d('a'), configDigest: d('c'), layers: [{ ...layer, diffId: d('e') }], snapshot: [d('e')], buildOnly: false, createdAt: 0, extra: { manifestSize: 30, configSize: 10, annotations: { a: 'long'.repeat(100) } } };
  const r = fromRecord(rec);
  assert.equal(r.annotations.a, 'long'.repeat(100));
  assert.equal(r.annotationDigests, undefined);
  assert.equal(r.manifestDoc, undefined);
});
