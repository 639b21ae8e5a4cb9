/**
 * Resource limits on untrusted layers: decompression bombs, entry floods, long paths, oversized
 * PAX records, and corrupt archives. Each must fail with its code, without writing outside the
 * root, and (for the bomb) without decompressing the whole stream first.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { D, extract, F, makeTar, sandbox, snapshotOutside, type Sandbox } from './harness.js';

async function expectCode(sb: Sandbox, tarBytes: Buffer, code: string, opts: Parameters<typeof extract>[2] = {}): Promise<void> {
  const before = snapshotOutside(sb);
  const { error } = await extract(sb, tarBytes, opts);
  assert.deepEqual(snapshotOutside(sb), before);
  assert.ok(error, `expected ${code}`);
  assert.equal((error as { code?: string }).code, code, String(error));
}

async function withSandbox(fn: (sb: Sandbox) => Promise<void>): Promise<void> {
  const sb = sandbox();
  try {
    await fn(sb);
  } finally {
    sb.cleanup();
  }
}

test('gzip bomb over the uncompressed limit is refused', () =>
  withSandbox(async (sb) => {
    // 64 MiB of zeros gzips to ~64 KiB; the limit is 8 MiB.
    const bomb = await makeTar([F('zeros', Buffer.alloc(64 << 20))]);
    await expectCode(sb, bomb, 'STACKER_E_LAYER_TOO_LARGE', { gzip: true, maxUncompressedBytes: 8 << 20 });
  }));

test('bytes after the end-of-archive marker count against the limit', () =>
  withSandbox(async (sb) => {
    const tarBytes = Buffer.concat([await makeTar([F('a', 'x')]), Buffer.alloc(16 << 20)]);
    await expectCode(sb, tarBytes, 'STACKER_E_LAYER_TOO_LARGE', { gzip: true, maxUncompressedBytes: 1 << 20 });
  }));

test('the same layer under the limit extracts', () =>
  withSandbox(async (sb) => {
    const { error } = await extract(sb, await makeTar([F('zeros', Buffer.alloc(1 << 20))]), { gzip: true, maxUncompressedBytes: 8 << 20 });
    assert.equal(error, undefined);
  }));

test('entry flood over maxEntries is refused', () =>
  withSandbox(async (sb) => {
    const specs = Array.from({ length: 200 }, (_, i) => F(`f${i}`, ''));
    await expectCode(sb, await makeTar(specs), 'STACKER_E_LAYER_TOO_MANY_ENTRIES', { maxEntries: 100 });
  }));

test('a name longer than maxPathLength is refused', () =>
  withSandbox(async (sb) => {
    const name = Array.from({ length: 30 }, () => 'd'.repeat(200)).join('/');
    await expectCode(sb, await makeTar([F(name, 'x')]), 'STACKER_E_LAYER_PATH_TOO_LONG');
  }));

test('a symlink target longer than maxPathLength is refused', () =>
  withSandbox(async (sb) => {
    const target = 'x/'.repeat(300);
    await expectCode(sb, await makeTar([{ name: 's', type: 'symlink', linkname: target }]), 'STACKER_E_LAYER_PATH_TOO_LONG', { maxPathLength: 512 });
  }));

test('an oversized PAX header is refused before it is buffered', () =>
  withSandbox(async (sb) => {
    const big = { 'SCHILY.xattr.user.big': 'v'.repeat(2 << 20) };
    await expectCode(sb, await makeTar([{ ...D('d'), pax: big }]), 'STACKER_E_LAYER_CORRUPT');
  }));

test('a corrupt header checksum is refused', () =>
  withSandbox(async (sb) => {
    const t = await makeTar([F('a', 'x')]);
    t[0] = 0x42; // name byte changed, checksum not updated
    await expectCode(sb, t, 'STACKER_E_LAYER_CORRUPT');
  }));

test('a truncated archive is refused', () =>
  withSandbox(async (sb) => {
    const t = await makeTar([F('a', Buffer.alloc(4096, 1))]);
    await expectCode(sb, t.subarray(0, 512 + 1000), 'STACKER_E_LAYER_CORRUPT');
  }));

test('bytes that are not a tar are refused', () =>
  withSandbox(async (sb) => {
    await expectCode(sb, Buffer.from('not a tar at all '.repeat(100)), 'STACKER_E_LAYER_CORRUPT');
  }));

test('a +gzip layer that is not gzip fails', () =>
  withSandbox(async (sb) => {
    await expectCode(sb, await makeTar([F('a', 'x')]), 'STACKER_E_LAYER_CORRUPT', { gzip: true, rawBlob: true });
  }));
