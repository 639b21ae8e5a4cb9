import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatImageRef, manifestReference, parseImageRef, parseOciLayoutRef } from '../../src/oci/image-ref.js';

const D = `sha256:${'a'.repeat(64)}`;

test('docker://busybox normalizes to Docker Hub library/busybox:latest', () => {
  assert.deepEqual(parseImageRef('docker://busybox'), {
    transport: 'docker',
    registry: 'docker.io',
    host: 'registry-1.docker.io',
    repository: 'library/busybox',
    tag: 'latest',
  });
});

test('docker hub user repositories keep their namespace', () => {
  const r = parseImageRef('docker://someone/tool:1.2');
  assert.equal(r.transport, 'docker');
  if (r.transport !== 'docker') return;
  assert.equal(r.repository, 'someone/tool');
  assert.equal(r.tag, '1.2');
  assert.equal(r.host, 'registry-1.docker.io');
});

test('host with port, nested path, tag and digest', () => {
  const r = parseImageRef(`docker://127.0.0.1:5000/c3/minbase:1.0@${D}`);
  assert.deepEqual(r, {
    transport: 'docker',
    registry: '127.0.0.1:5000',
    host: '127.0.0.1:5000',
    repository: 'c3/minbase',
    tag: '1.0',
    digest: D,
  });
  if (r.transport === 'docker') assert.equal(manifestReference(r), D);
});

test('digest-only reference has no tag', () => {
  const r = parseImageRef(`docker://quay.io/org/img@${D}`);
  assert.equal(r.transport === 'docker' && r.tag, undefined);
  assert.equal(r.transport === 'docker' && r.registry, 'quay.io');
});

test('localhost and index.docker.io are hosts', () => {
  const a = parseImageRef('docker://localhost/foo');
  assert.equal(a.transport === 'docker' && a.host, 'localhost');
  const b = parseImageRef('docker://index.docker.io/ubuntu:22.04');
  assert.equal(b.transport === 'docker' && b.registry, 'docker.io');
  assert.equal(b.transport === 'docker' && b.repository, 'library/ubuntu');
});

test('a first component without dot, colon or localhost is a path, not a host', () => {
  const r = parseImageRef('docker://myorg/app');
  assert.equal(r.transport === 'docker' && r.registry, 'docker.io');
  assert.equal(r.transport === 'docker' && r.repository, 'myorg/app');
});

test('invalid references are rejected with STACKER_E_BAD_IMAGE_REF', () => {
  for (const bad of ['docker://', 'docker://Busybox', 'docker://busybox@sha256:abc', 'docker://a/b:t@g', 'docker://bad..name', 'http://x/y', 'busybox']) {
    assert.throws(() => parseImageRef(bad), (e: { code?: string }) => e.code === 'STACKER_E_BAD_IMAGE_REF', bad);
  }
});

test('oci: splits at the FIRST colon', () => {
  assert.deepEqual(parseImageRef('oci:dest:busybox:0.1.1'), { transport: 'oci', path: 'dest', tag: 'busybox:0.1.1' });
  assert.deepEqual(parseImageRef('oci:/abs/layout:latest'), { transport: 'oci', path: '/abs/layout', tag: 'latest' });
  assert.deepEqual(parseOciLayoutRef('oci'), { transport: 'oci', path: 'oci' });
  assert.throws(() => parseOciLayoutRef(':tag'), /empty layout path/);
  assert.throws(() => parseOciLayoutRef('dir:'), /empty tag/);
});

test('formatImageRef round-trips', () => {
  for (const s of ['docker://docker.io/library/busybox:latest', `docker://r:5000/a/b:1@${D}`, 'oci:dir:t:x']) {
    assert.equal(formatImageRef(parseImageRef(s)), s);
  }
});
