/**
 * unpackLayer on archives written by GNU tar in each of its formats (gnu long names, posix/PAX
 * with binary xattrs, ustar prefixes, v7), on every layer media type, and the entry semantics
 * that make a directory a correct overlay lower dir: replace rules, whiteouts from the same
 * layer, opaque markers in any position, attribute order (setuid survives chown).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { native } from '../../src/oci/layer/native.js';
import { unpackLayer } from '../../src/oci/layer/unpack.js';
import { D, F, makeTar, S, type Spec } from '../security/harness.js';

const TAR = 'application/vnd.oci.image.layer.v1.tar';
const GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';
const LONG = `${'d'.repeat(120)}/${'n'.repeat(130)}`;
let base: string;
let src: string;
let n = 0;

function fresh(): string {
  const d = join(base, `dest-${n++}`);
  mkdirSync(d);
  return d;
}

async function unpackBytes(bytes: Buffer, mediaType = TAR, warnings: string[] = []): Promise<string> {
  const blob = join(base, `blob-${n}`);
  writeFileSync(blob, bytes);
  const dest = fresh();
  await unpackLayer(blob, { destDir: dest, mediaType, onWarning: (w) => warnings.push(w) });
  return dest;
}

before(() => {
  base = mkdtempSync(join(tmpdir(), 'stacker-layer-unpack-'));
  src = join(base, 'src');
  mkdirSync(join(src, 'bin'), { recursive: true });
  writeFileSync(join(src, 'bin/tool'), 'tool');
  chownSync(join(src, 'bin/tool'), 0, 50);
  chmodSync(join(src, 'bin/tool'), 0o2755);
  native().lsetxattr(join(src, 'bin/tool'), 'user.cap', Buffer.from([1, 0, 0, 2, 0x20, 0, 0xff, 0]));
  mkdirSync(join(src, LONG.split('/')[0] as string));
  writeFileSync(join(src, LONG), 'long');
  symlinkSync('../bin/tool', join(src, 'link'));
});
after(() => rmSync(base, { recursive: true, force: true }));

for (const format of ['gnu', 'posix', 'ustar', 'v7'] as const) {
  test(`GNU tar --format=${format} archives extract`, async () => {
    const file = join(base, `${format}.tar`);
    const xattrs = format === 'posix' ? ['--xattrs', '--xattrs-include=user.*'] : [];
    const members = format === 'ustar' || format === 'v7' ? ['bin', 'link'] : ['.'];
    execFileSync('tar', ['-C', src, `--format=${format}`, ...xattrs, '-cf', file, ...members]);
    const dest = await unpackBytes(readFileSync(file));
    assert.equal(readFileSync(join(dest, 'bin/tool'), 'utf8'), 'tool');
    const st = lstatSync(join(dest, 'bin/tool'));
    assert.equal(st.mode & 0o7777, 0o2755, 'setgid survives chown');
    assert.equal(st.gid, 50);
    assert.equal(readlinkSync(join(dest, 'link')), '../bin/tool');
    if (format === 'gnu' || format === 'posix') assert.equal(readFileSync(join(dest, LONG), 'utf8'), 'long');
    if (format === 'posix') assert.deepEqual(native().lgetxattr(join(dest, 'bin/tool'), 'user.cap'), Buffer.from([1, 0, 0, 2, 0x20, 0, 0xff, 0]));
  });
}

test('every layer media type: tar, OCI gzip, Docker gzip, multi-member gzip', async () => {
  const t = await makeTar([F('a', 'x')]);
  const half = t.length / 2;
  const multi = Buffer.concat([gzipSync(t.subarray(0, half)), gzipSync(t.subarray(half))]);
  for (const [bytes, mt] of [[t, TAR], [gzipSync(t), GZ], [gzipSync(t), 'application/vnd.docker.image.rootfs.diff.tar.gzip'], [multi, GZ]] as const) {
    const dest = await unpackBytes(bytes, mt);
    assert.equal(readFileSync(join(dest, 'a'), 'utf8'), 'x', mt);
  }
});

test('unknown media types and zstd (on Node without it) fail clearly', async () => {
  const t = await makeTar([F('a', 'x')]);
  await assert.rejects(unpackBytes(t, 'application/octet-stream'), { code: 'STACKER_E_LAYER_MEDIA_TYPE' });
  const hasZstd = 'createZstdDecompress' in (await import('node:zlib'));
  if (!hasZstd) await assert.rejects(unpackBytes(t, 'application/vnd.oci.image.layer.v1.tar+zstd'), { code: 'STACKER_E_LAYER_UNSUPPORTED', message: /zstd/ });
});

async function tree(specs: Spec[], warnings: string[] = []): Promise<string> {
  return unpackBytes(await makeTar(specs), TAR, warnings);
}

test('later entries replace earlier ones; dir over dir keeps contents and takes attributes', async () => {
  const dest = await tree([
    D('d', 0o755), F('d/keep', 'k'), { ...D('d', 0o700), uid: 7, mtime: 42 },
    D('was-dir'), F('was-dir/child', 'c'), F('was-dir', 'now a file'),
    F('was-file', 'f'), D('was-file'),
    S('was-link', '/etc'), F('was-link', 'plain'),
  ]);
  const d = lstatSync(join(dest, 'd'));
  assert.deepEqual([d.mode & 0o7777, d.uid, d.mtimeMs], [0o700, 7, 42_000]);
  assert.equal(readFileSync(join(dest, 'd/keep'), 'utf8'), 'k');
  assert.equal(readFileSync(join(dest, 'was-dir'), 'utf8'), 'now a file');
  assert.ok(lstatSync(join(dest, 'was-file')).isDirectory());
  assert.equal(readFileSync(join(dest, 'was-link'), 'utf8'), 'plain');
});

test('whiteouts: char 0/0; same-layer entries stay; a recreated dir or whited-out dir turns opaque', async () => {
  const opaque = (p: string): string | undefined => native().lgetxattr(p, 'user.overlay.opaque')?.toString();
  const dest = await tree([
    F('.wh.gone', ''), F('kept', 'k'), F('.wh.kept', ''),
    D('samedir'), F('samedir/x', 'x'), F('.wh.samedir', ''),
    F('.wh.redo', ''), D('redo'), F('redo/y', 'y'),
    F('.wh.implicit', ''), F('implicit/z', 'z'),
    D('o'), F('o/a', 'a'), F('o/.wh..wh..opq', ''),
    F('deep/er/.wh..wh..opq', ''), F('.wh..wh.plnk', ''),
  ]);
  const wh = lstatSync(join(dest, 'gone'));
  assert.ok(wh.isCharacterDevice() && wh.rdev === 0);
  assert.equal(readFileSync(join(dest, 'kept'), 'utf8'), 'k');
  assert.equal(opaque(join(dest, 'samedir')), 'y');
  assert.equal(readFileSync(join(dest, 'samedir/x'), 'utf8'), 'x');
  assert.equal(opaque(join(dest, 'redo')), 'y');
  assert.equal(opaque(join(dest, 'implicit')), 'y');
  assert.equal(opaque(join(dest, 'o')), 'y');
  assert.equal(readFileSync(join(dest, 'o/a'), 'utf8'), 'a', 'opaque marker after its siblings hides only lower layers');
  assert.equal(opaque(join(dest, 'deep/er')), 'y');
  assert.deepEqual(readdirSync(dest).sort(), ['deep', 'gone', 'implicit', 'kept', 'o', 'redo', 'samedir']);
});

test('directory mtimes are set after their children', async () => {
  const dest = await tree([{ ...D('d'), mtime: 100 }, F('d/a', 'a'), F('d/b', 'b'), { ...D('e'), mtime: 200 }, F('e/.wh.x', '')]);
  assert.equal(lstatSync(join(dest, 'd')).mtimeMs, 100_000);
  assert.equal(lstatSync(join(dest, 'e')).mtimeMs, 200_000);
});

test('FIFOs are created; devices are skipped with a warning', async () => {
  const warnings: string[] = [];
  const dest = await tree([{ name: 'fifo', type: 'fifo', mode: 0o620 }, { name: 'tty', type: 'character-device', devmajor: 5, devminor: 0 }], warnings);
  const st = lstatSync(join(dest, 'fifo'));
  assert.ok(st.isFIFO());
  assert.equal(st.mode & 0o777, 0o620);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] as string, /tty: skipping device node \(5:0\)/);
});
