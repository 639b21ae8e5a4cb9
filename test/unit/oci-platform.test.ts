import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Digest } from '../../src/core/index.js';
import { normalizeArch, selectPlatform } from '../../src/oci/platform.js';
import type { OciIndex, Platform } from '../../src/oci/types.js';

const entry = (n: number, platform?: Platform) => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}` as Digest,
  size: 100,
  ...(platform === undefined ? {} : { platform }),
});

const index: OciIndex = {
  schemaVersion: 2,
  manifests: [
    entry(1, { os: 'unknown', architecture: 'unknown' }),
    entry(2, { os: 'linux', architecture: 'amd64' }),
    entry(3, { os: 'linux', architecture: 'arm', variant: 'v6' }),
    entry(4, { os: 'linux', architecture: 'arm', variant: 'v7' }),
    entry(5, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
  ],
};

test('picks by os and architecture, with aliases', () => {
  assert.equal(selectPlatform(index, { os: 'linux', arch: 'amd64' }, 'x').digest, index.manifests[1]!.digest);
  assert.equal(selectPlatform(index, { os: 'linux', arch: 'x86_64' }, 'x').digest, index.manifests[1]!.digest);
  assert.equal(selectPlatform(index, { os: 'linux', arch: 'aarch64' }, 'x').digest, index.manifests[4]!.digest);
  assert.equal(normalizeArch('aarch64'), 'arm64');
});

test('variant: explicit wins, default variant preferred otherwise', () => {
  assert.equal(selectPlatform(index, { os: 'linux', arch: 'arm', variant: 'v6' }, 'x').digest, index.manifests[2]!.digest);
  assert.equal(selectPlatform(index, { os: 'linux', arch: 'arm' }, 'x').digest, index.manifests[3]!.digest);
  assert.equal(selectPlatform(index, { os: 'linux', arch: 'arm64', variant: 'v8' }, 'x').digest, index.manifests[4]!.digest);
});

test('no match lists the available platforms', () => {
  assert.throws(
    () => selectPlatform(index, { os: 'linux', arch: 's390x' }, 'docker://r/x:1'),
    (e: { code?: string; message?: string }) =>
      e.code === 'STACKER_E_NO_MATCHING_PLATFORM' &&
      e.message === 'no image for platform linux/s390x in docker://r/x:1; available: linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8',
  );
  assert.throws(() => selectPlatform(index, { os: 'windows', arch: 'amd64' }, 'x'), /STACKER|no image/);
});
