import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson } from '../../src/oci/canonical-json.js';
import {
  MediaType,
  isGzipLayer,
  isIndexType,
  isLayerMediaType,
  isNondistributableLayer,
  isUncompressedLayer,
  isZstdLayer,
  layerCompression,
  normalizeLayerMediaType,
  normalizeMediaType,
} from '../../src/oci/media-types.js';

test('docker layer types map to OCI, OCI and unknown types pass through', () => {
  assert.equal(normalizeLayerMediaType(MediaType.dockerLayerGzip), MediaType.ociLayerGzip);
  assert.equal(normalizeLayerMediaType(MediaType.dockerLayerForeignGzip), MediaType.ociLayerNondistributableGzip);
  assert.equal(normalizeLayerMediaType(MediaType.ociLayerZstd), MediaType.ociLayerZstd);
  assert.equal(normalizeLayerMediaType('application/x-custom'), 'application/x-custom');
  assert.equal(normalizeMediaType(MediaType.dockerManifestList), MediaType.ociIndex);
  assert.equal(normalizeMediaType(MediaType.dockerConfig), MediaType.ociConfig);
});

test('compression is read from the media type', () => {
  assert.equal(layerCompression(MediaType.dockerLayerGzip), 'gzip');
  assert.ok(isGzipLayer(MediaType.ociLayerGzip));
  assert.ok(isZstdLayer(MediaType.ociLayerZstd));
  assert.ok(isUncompressedLayer(MediaType.ociLayer));
  assert.ok(!isGzipLayer(MediaType.ociLayer));
  assert.ok(!isLayerMediaType(MediaType.ociConfig));
  assert.ok(isNondistributableLayer(MediaType.dockerLayerForeignGzip));
  assert.ok(!isNondistributableLayer(MediaType.ociLayerGzip));
  assert.ok(isIndexType(MediaType.dockerManifestList) && !isIndexType(MediaType.ociManifest));
});

test('canonical JSON sorts keys at every depth, keeps arrays, drops undefined', () => {
  const a = canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined }, e: 'x' });
  assert.equal(a, '{"a":{"d":[3,{"y":2,"z":1}]},"b":1,"e":"x"}');
  assert.equal(canonicalJson({ x: 1, y: 2 }), canonicalJson({ y: 2, x: 1 }));
  assert.throws(() => canonicalJson({ n: Number.NaN }));
});
