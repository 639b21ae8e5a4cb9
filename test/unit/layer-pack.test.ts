/**
 * packLayer round trips: an overlay-style upper dir (files, dirs, symlinks, hardlinks, user
 * xattrs, setuid/sticky modes, big uids, long names, whiteout devices, an opaque dir) is packed,
 * then read back by GNU tar (independent reader) and by unpackLayer; output must be
 * deterministic, multi-member, and honour SOURCE_DATE_EPOCH.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { native } from '../../src/oci/layer/native.js';
import { packLayer, type PackResult } from '../../src/oci/layer/pack.js';
import { unpackLayer } from '../../src/oci/layer/unpack.js';

const T0 = 1_600_000_000; // mtime of every fixture node
const FUTURE = 2_000_000_000;
const LONG = 'x'.repeat(150); // one component > 100 bytes: needs a PAX path
let base: string;
let upper: string;

function pseudoRandom(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i += 32) createHash('sha256').update(String(x++)).digest().copy(out, i);
  return out;
}

function makeUpper(dir: string): void {
  const p = (rel: string): string => join(dir, rel);
  mkdirSync(p('etc/app'), { recursive: true });
  writeFileSync(p('etc/app/config.json'), '{"a":1}\n');
  writeFileSync(p('etc/empty'), '');
  writeFileSync(p('big.bin'), Buffer.concat([pseudoRandom(2 << 20, 1), Buffer.alloc(2 << 20, 0x61)])); // ~4 MiB: several members
  writeFileSync(p('suid'), '#!/bin/sh\n');
  chmodSync(p('suid'), 0o4755);
  mkdirSync(p('tmp'));
  chmodSync(p('tmp'), 0o1777);
  writeFileSync(p('owned'), 'o');
  chownSync(p('owned'), 1000, 1001);
  writeFileSync(p('bigid'), 'b');
  chownSync(p('bigid'), 3_000_000, 3_000_001); // beyond USTAR's 7 octal digits: PAX uid/gid
  writeFileSync(p('hl-a'), 'same inode');
  linkSync(p('hl-a'), p('hl-b'));
  symlinkSync('etc/app/config.json', p('rel-link'));
  symlinkSync('/etc/passwd', p('abs-link'));
  mkdirSync(p(`deep/${LONG}`), { recursive: true });
  writeFileSync(p(`deep/${LONG}/f`), 'deep');
  writeFileSync(p('xattr-file'), 'x');
  native().lsetxattr(p('xattr-file'), 'user.mime', Buffer.from('text/plain'));
  native().lsetxattr(p('xattr-file'), 'user.bin', Buffer.from([0, 1, 2, 255]));
  native().lsetxattr(p('xattr-file'), 'user.overlay.origin', Buffer.from('private')); // stripped
  native().mknod(p('gone'), 0o020000, 0, 0); // overlay whiteout
  native().mknod(p('etc/gone-too'), 0o020000, 0, 0);
  mkdirSync(p('opq'));
  writeFileSync(p('opq/kept'), 'k');
  native().lsetxattr(p('opq'), 'user.overlay.opaque', Buffer.from('y'));
  mkdirSync(p('stacker/imports'), { recursive: true }); // excluded below
  writeFileSync(p('stacker/imports/secret'), 's');
  execFileSync('find', [dir, '-exec', 'touch', '-h', '-d', `@${T0}`, '{}', '+']);
  utimesSync(p('etc/empty'), FUTURE, FUTURE);
}

const exclude = (rel: string): boolean => rel === 'stacker';

async function pack(out: string, extra: Partial<Parameters<typeof packLayer>[1]> = {}): Promise<PackResult> {
  const r = await packLayer(upper, { outFile: out, exclude, ...extra });
  assert.ok(r, 'a non-empty upper dir gives a layer');
  return r;
}

function listing(file: string): string[] {
  return execFileSync('tar', ['--numeric-owner', '-tvzf', file], { encoding: 'utf8' }).trim().split('\n');
}

before(() => {
  base = mkdtempSync(join(tmpdir(), 'stacker-layer-pack-'));
  upper = join(base, 'upper');
  mkdirSync(upper);
  makeUpper(upper);
});
after(() => rmSync(base, { recursive: true, force: true }));

test('digests, sizes and media type describe the blob', async () => {
  const out = join(base, 'l1.tar.gz');
  const r = await pack(out);
  const blob = readFileSync(out);
  const tarBytes = gunzipSync(blob);
  assert.equal(r.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  assert.equal(r.size, blob.length);
  assert.equal(r.digest, `sha256:${createHash('sha256').update(blob).digest('hex')}`);
  assert.equal(r.uncompressedSize, tarBytes.length);
  assert.equal(r.diffId, `sha256:${createHash('sha256').update(tarBytes).digest('hex')}`);
  assert.equal(tarBytes.length % 512, 0);
});

test('GNU tar reads it: order, whiteouts, opaque marker, links, modes, owners, no excluded paths', async () => {
  const out = join(base, 'l2.tar.gz');
  const r = await pack(out);
  const lines = listing(out);
  const names = lines.map((l) => l.replace(/^.*? \d\d:\d\d /, '').replace(/ (->|link to) .*$/, ''));
  assert.equal(names.length, r.entries);
  assert.deepEqual(names, [
    'abs-link', 'big.bin', 'bigid', 'deep/', `deep/${LONG}/`, `deep/${LONG}/f`, 'etc/', 'etc/.wh.gone-too', 'etc/app/',
    'etc/app/config.json', 'etc/empty', '.wh.gone', 'hl-a', 'hl-b', 'opq/', 'opq/.wh..wh..opq', 'opq/kept', 'owned',
    'rel-link', 'suid', 'tmp/', 'xattr-file',
  ].sort((a, b) => Buffer.compare(Buffer.from(a.replace(/\/$/, '')), Buffer.from(b.replace(/\/$/, '')))).map((n) => n));
  const line = (n: string): string => lines.find((l) => l.endsWith(` ${n}`) || l.includes(` ${n} `)) ?? assert.fail(`no ${n} in ${lines.join('\n')}`);
  assert.match(line('suid'), /^-rwsr-xr-x 0\/0 /);
  assert.match(line('tmp/'), /^drwxrwxrwt /);
  assert.match(line('owned'), / 1000\/1001 /);
  assert.match(line('bigid'), / 3000000\/3000001 /);
  assert.match(line('hl-b'), /^h.* hl-b link to hl-a$/);
  assert.match(line('rel-link'), /^l.* rel-link -> etc\/app\/config.json$/);
  assert.match(line('.wh.gone'), /^-{10} 0\/0 +0 /);
  assert.ok(!lines.some((l) => l.includes('stacker')), 'excluded paths must not be packed');
});

test('GNU tar extracts user xattrs (overlay-private ones stripped)', async () => {
  const out = join(base, 'l3.tar.gz');
  await pack(out);
  const dest = join(base, 'gnu-x');
  mkdirSync(dest);
  execFileSync('tar', ['--xattrs', '--xattrs-include=user.*', '-xzf', out, '-C', dest, 'xattr-file']);
  assert.equal(native().lgetxattr(join(dest, 'xattr-file'), 'user.mime')?.toString(), 'text/plain');
  assert.deepEqual(native().lgetxattr(join(dest, 'xattr-file'), 'user.bin'), Buffer.from([0, 1, 2, 255]));
  assert.equal(native().lgetxattr(join(dest, 'xattr-file'), 'user.overlay.origin'), null);
});

test('unpackLayer restores the tree exactly', async () => {
  const out = join(base, 'l4.tar.gz');
  const r = await pack(out);
  const dest = join(base, 'ours');
  mkdirSync(dest);
  const warnings: string[] = [];
  const u = await unpackLayer(out, { destDir: dest, mediaType: r.mediaType, onWarning: (w) => warnings.push(w) });
  assert.deepEqual(warnings, []);
  assert.equal(u.diffId, r.diffId);
  assert.equal(u.entries, r.entries);
  const same = (rel: string): void => {
    const a = lstatSync(join(upper, rel));
    const b = lstatSync(join(dest, rel));
    assert.deepEqual([b.mode, b.uid, b.gid, b.mtimeMs], [a.mode, a.uid, a.gid, Math.min(a.mtimeMs, b.mtimeMs)], rel);
    if (a.isFile()) assert.ok(readFileSync(join(dest, rel)).equals(readFileSync(join(upper, rel))), rel);
    if (a.isSymbolicLink()) assert.equal(readlinkSync(join(dest, rel)), readlinkSync(join(upper, rel)));
  };
  for (const rel of ['big.bin', 'suid', 'tmp', 'owned', 'bigid', 'hl-a', 'rel-link', 'abs-link', `deep/${LONG}/f`, 'etc/app', 'etc', 'opq', 'opq/kept', 'xattr-file']) same(rel);
  assert.equal(lstatSync(join(dest, 'hl-a')).ino, lstatSync(join(dest, 'hl-b')).ino);
  for (const wh of ['gone', 'etc/gone-too']) {
    const st = lstatSync(join(dest, wh));
    assert.ok(st.isCharacterDevice() && st.rdev === 0, `${wh} is a whiteout again`);
  }
  assert.equal(native().lgetxattr(join(dest, 'opq'), 'user.overlay.opaque')?.toString(), 'y');
  assert.ok(!existsSync(join(dest, 'opq/.wh..wh..opq')));
  assert.deepEqual(native().llistxattr(join(dest, 'xattr-file')).sort(), ['user.bin', 'user.mime']);
  assert.ok(!existsSync(join(dest, 'stacker')));
});

test('deterministic: same bytes whatever the concurrency; chunk size changes the blob, not the tar', async () => {
  const a = await pack(join(base, 'd1.tar.gz'), { concurrency: 1 });
  const b = await pack(join(base, 'd2.tar.gz'), { concurrency: 6 });
  assert.ok(readFileSync(join(base, 'd1.tar.gz')).equals(readFileSync(join(base, 'd2.tar.gz'))));
  assert.equal(a.digest, b.digest);
  const c = await pack(join(base, 'd3.tar.gz'), { chunkSize: 64 * 1024 });
  assert.equal(c.diffId, a.diffId);
  assert.notEqual(c.digest, a.digest);
  // Several members: each starts with a gzip header at a member boundary (4 MiB of tar, 1 MiB chunks).
  const blob = readFileSync(join(base, 'd1.tar.gz'));
  const headers = countGzipMembers(blob);
  assert.equal(headers, Math.ceil(a.uncompressedSize / (1 << 20)));
});

/** Walks the member chain: 10-byte header (no optional fields), raw deflate, 8-byte trailer. */
function countGzipMembers(blob: Buffer): number {
  let members = 0;
  let off = 0;
  while (off < blob.length) {
    assert.equal(blob.readUInt32BE(off), 0x1f8b0800, `plain gzip member header at ${off}`);
    const r = inflateRawSync(blob.subarray(off + 10), { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    off += 10 + r.engine.bytesWritten;
    assert.equal(blob.readUInt32LE(off + 4), r.buffer.length, 'ISIZE trailer');
    off += 8;
    members++;
  }
  return members;
}

test('SOURCE_DATE_EPOCH clamps newer mtimes only', async () => {
  const sde = 1_700_000_000;
  const out = join(base, 'sde.tar.gz');
  await pack(out, { sourceDateEpoch: sde });
  const dest = join(base, 'sde');
  mkdirSync(dest);
  await unpackLayer(out, { destDir: dest, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' });
  assert.equal(lstatSync(join(dest, 'etc/empty')).mtimeMs, sde * 1000, 'a newer mtime is clamped');
  assert.equal(lstatSync(join(dest, 'suid')).mtimeMs, T0 * 1000, 'an older mtime is kept');
  const again = await pack(join(base, 'sde2.tar.gz'), { sourceDateEpoch: sde });
  const first = await pack(join(base, 'sde3.tar.gz'), { sourceDateEpoch: sde });
  assert.equal(again.digest, first.digest);
});

test('an empty upper dir, or one where everything is excluded, gives no layer and no file', async () => {
  const empty = join(base, 'empty');
  mkdirSync(join(empty, 'stacker'), { recursive: true });
  const out = join(base, 'none.tar.gz');
  assert.equal(await packLayer(empty, { outFile: out, exclude }), null);
  rmSync(join(empty, 'stacker'), { recursive: true });
  assert.equal(await packLayer(empty, { outFile: out }), null);
  assert.ok(!existsSync(out));
});

test('an upper dir using overlay redirect/metacopy is refused, not packed incompletely', async () => {
  const dir = join(base, 'redirect');
  mkdirSync(join(dir, 'moved'), { recursive: true });
  native().lsetxattr(join(dir, 'moved'), 'user.overlay.redirect', Buffer.from('/orig'));
  const out = join(base, 'redirect.tar.gz');
  await assert.rejects(packLayer(dir, { outFile: out }), { code: 'STACKER_E_LAYER_UNSUPPORTED', message: /user\.overlay\.redirect/ });
  assert.ok(!existsSync(out));
});

test('packed from outside the user namespace (ids): owners translated; an unmapped id or an id-bearing attribute asks for the namespace', async () => {
  const plain = listing(await pack(join(base, 'ids0.tar.gz')).then(() => join(base, 'ids0.tar.gz')));
  // The caller (here 0) is the namespace's root; 1000.. are its subordinate ids 1..
  const shift = (n: number): number | undefined => (n === 0 ? 0 : n >= 1000 && n < 66000 ? n - 999 : undefined);
  const out = join(base, 'ids1.tar.gz');
  const r = await packLayer(upper, { outFile: out, exclude: (rel) => exclude(rel) || rel === 'bigid', ids: { uid: shift, gid: shift } });
  assert.ok(r);
  const shifted = listing(out);
  assert.match(shifted.find((l) => l.endsWith(' owned'))!, / 1\/2 /);
  // Everything else is as packed inside: only owners differ.
  const drop = (ls: string[]) => ls.filter((l) => !/ (owned|bigid)$/.test(l)).join('\n');
  assert.equal(drop(shifted), drop(plain));
  await assert.rejects(packLayer(upper, { outFile: join(base, 'ids2.tar.gz'), exclude, ids: { uid: shift, gid: shift } }), (e: Error & { code?: string }) => e.code === 'STACKER_E_NEEDS_NAMESPACE' && /bigid/.test(e.message));
  assert.equal(existsSync(join(base, 'ids2.tar.gz')), false);
  // A file capability (security.capability, VFS_CAP_REVISION_2, cap_net_raw): its value is read differently in another namespace.
  const capDir = join(base, 'cap-upper');
  mkdirSync(capDir);
  writeFileSync(join(capDir, 'ping'), 'p');
  const cap = Buffer.alloc(20);
  cap.writeUInt32LE(0x02000000, 0);
  cap.writeUInt32LE(1 << 13, 4);
  native().lsetxattr(join(capDir, 'ping'), 'security.capability', cap);
  const same = { uid: (n: number) => n, gid: (n: number) => n };
  await assert.rejects(packLayer(capDir, { outFile: join(base, 'ids3.tar.gz'), ids: same }), (e: Error & { code?: string }) => e.code === 'STACKER_E_NEEDS_NAMESPACE' && /security\.capability/.test(e.message));
  assert.ok(await packLayer(capDir, { outFile: join(base, 'ids4.tar.gz') }), 'inside, it is packed');
});
