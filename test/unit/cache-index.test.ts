import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildIndex, defaultMigrationsDir } from '../../src/cache/index.js';
import type { NewNodeRecord } from '../../src/cache/index.js';
import { sha256Digest } from '../../src/core/digest.js';
import type { Digest } from '../../src/core/digest.js';
import { StackerError } from '../../src/core/errors.js';
import { canonicalJson } from '../../src/fingerprint/canonical.js';
import { StatCacheView } from '../../src/fingerprint/stat-cache.js';
import { cachedStat, type StatRow } from '../../src/fingerprint/stat-cache.js';
import { digestInput, packEntries, unpackEntries } from '../../src/fingerprint/tree-digest.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'stacker-cache-'));
}

function node(layer: string, n: number, createdAt?: number): NewNodeRecord {
  const inputDocument = canonicalJson({ layer, n, run: `echo ${n}` });
  const d = (s: string): Digest => sha256Digest(s);
  const rec: NewNodeRecord = {
    key: sha256Digest(inputDocument),
    layer,
    inputDocument,
    manifestDigest: d(`m${n}`),
    configDigest: d(`c${n}`),
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d(`l${n}`), size: n, diffId: d(`u${n}`) }],
    snapshot: [d(`u${n}`)],
    buildOnly: n % 2 === 1,
  };
  if (createdAt !== undefined) rec.createdAt = createdAt;
  return rec;
}

function expectCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof StackerError && e.code === code);
}

test('migrations: fresh index gets the newest schema, in WAL mode, and reopening keeps data', () => {
  const dir = tmp();
  const ix = BuildIndex.open(join(dir, 'st'));
  assert.equal(ix.schemaVersion(), 1);
  assert.deepEqual(ix.checkIntegrity(), []);
  const rec = node('a', 1);
  ix.recordNode(rec);
  assert.ok(existsSync(join(dir, 'st', 'index.db-wal')), 'WAL file exists while open');
  ix.close();
  const again = BuildIndex.open(join(dir, 'st'));
  assert.equal(again.schemaVersion(), 1);
  assert.equal(again.lookup(rec.key)?.layer, 'a');
  again.close();
  rmSync(dir, { recursive: true });
});

test('migrations: the .sql files are found from the compiled module', () => {
  const d = defaultMigrationsDir();
  assert.ok(existsSync(join(d, '001-initial.sql')), d);
});

test('migrations: an index from a newer stacker is refused with a clear error', () => {
  const dir = tmp();
  const mig = join(dir, 'mig');
  mkdirSync(mig);
  copyFileSync(join(defaultMigrationsDir(), '001-initial.sql'), join(mig, '001-initial.sql'));
  writeFileSync(join(mig, '002-extra.sql'), 'CREATE TABLE extra (a INTEGER);');
  BuildIndex.open(join(dir, 'st'), { migrationsDir: mig }).close();
  expectCode(() => BuildIndex.open(join(dir, 'st')), 'STACKER_E_INDEX_TOO_NEW');
  rmSync(dir, { recursive: true });
});

test('migrations: a failing migration rolls back entirely and leaves the version', () => {
  const dir = tmp();
  const mig = join(dir, 'mig');
  mkdirSync(mig);
  copyFileSync(join(defaultMigrationsDir(), '001-initial.sql'), join(mig, '001-initial.sql'));
  writeFileSync(join(mig, '002-bad.sql'), 'CREATE TABLE extra (a INTEGER);\nTHIS IS NOT SQL;');
  assert.throws(() => BuildIndex.open(join(dir, 'st'), { migrationsDir: mig }));
  const ix = BuildIndex.open(join(dir, 'st')); // knows only 001: must still be at version 1
  assert.equal(ix.schemaVersion(), 1);
  ix.close();
  // Had `extra` survived the failed migration, creating it again would fail.
  writeFileSync(join(mig, '002-bad.sql'), 'CREATE TABLE extra (a INTEGER);');
  const ix2 = BuildIndex.open(join(dir, 'st'), { migrationsDir: mig });
  assert.equal(ix2.schemaVersion(), 2);
  ix2.close();
  rmSync(dir, { recursive: true });
});

test('migrations: a gap in the numbering is rejected', () => {
  const dir = tmp();
  const mig = join(dir, 'mig');
  mkdirSync(mig);
  copyFileSync(join(defaultMigrationsDir(), '001-initial.sql'), join(mig, '001-initial.sql'));
  writeFileSync(join(mig, '003-late.sql'), 'SELECT 1;');
  assert.throws(() => BuildIndex.open(join(dir, 'st'), { migrationsDir: mig }), /expected version 2/);
  rmSync(dir, { recursive: true });
});

test('a damaged index file is reported, not crashed on', () => {
  const dir = tmp();
  mkdirSync(join(dir, 'st'));
  writeFileSync(join(dir, 'st', 'index.db'), Buffer.alloc(8192, 0x41));
  expectCode(() => BuildIndex.open(join(dir, 'st')), 'STACKER_E_INDEX_CORRUPT');
  rmSync(dir, { recursive: true });
});

test('nodes: lookup, lookupMany and knownKeys in one call, latestForLayer, replace, delete', () => {
  const dir = tmp();
  const ix = BuildIndex.open(dir);
  const recs = Array.from({ length: 50 }, (_, i) => node(`l${i % 5}`, i, 1000 + i));
  for (const r of recs) ix.recordNode(r);

  const one = ix.lookup(recs[7]!.key);
  assert.ok(one);
  assert.equal(one.layer, 'l2');
  assert.equal(one.inputDocument, recs[7]!.inputDocument);
  assert.deepEqual(one.layers, recs[7]!.layers);
  assert.deepEqual(one.snapshot, recs[7]!.snapshot);
  assert.equal(one.buildOnly, true);
  assert.equal(one.createdAt, 1007);
  assert.equal(one.extra, undefined);
  assert.equal(ix.lookup(sha256Digest('nope')), undefined);

  const unknown = Array.from({ length: 10 }, (_, i) => sha256Digest(`unknown${i}`));
  const many = ix.lookupMany([...recs.map((r) => r.key), ...unknown]);
  assert.equal(many.size, 50);
  for (const r of recs) assert.equal(many.get(r.key)?.manifestDigest, r.manifestDigest);
  assert.equal(ix.lookupMany([]).size, 0);
  assert.deepEqual(ix.knownKeys([...unknown, ...recs.map((r) => r.key)]), new Set(recs.map((r) => r.key)));
  assert.deepEqual(ix.knownKeys(unknown), new Set());
  assert.equal(ix.knownKeys([]).size, 0);

  assert.equal(ix.latestForLayer('l3')?.key, recs[48]!.key); // n = 48 is the newest of l3
  assert.equal(ix.latestForLayer('none'), undefined);

  // Re-recording a key replaces the result (e.g. --no-cache); extra round-trips.
  const replaced = { ...recs[0]!, manifestDigest: sha256Digest('new'), extra: { codec: 'gzip', level: 6 } };
  ix.recordNode(replaced);
  assert.equal(ix.lookup(recs[0]!.key)?.manifestDigest, sha256Digest('new'));
  assert.deepEqual(ix.lookup(recs[0]!.key)?.extra, { codec: 'gzip', level: 6 });

  assert.equal(ix.deleteNode(recs[1]!.key), true);
  assert.equal(ix.deleteNode(recs[1]!.key), false);
  assert.equal(ix.lookup(recs[1]!.key), undefined);
  assert.equal(ix.getDocument(recs[1]!.key)?.doc, recs[1]!.inputDocument, 'the document stays for history');
  assert.deepEqual(ix.checkIntegrity(), []);
  ix.close();
  rmSync(dir, { recursive: true });
});

test('nodes: a key that is not the digest of its document is a caller bug', () => {
  const dir = tmp();
  const ix = BuildIndex.open(dir);
  const bad = { ...node('a', 1), inputDocument: '{"tampered":true}' };
  assert.throws(() => ix.recordNode(bad), /not the sha256/);
  assert.equal(ix.lookup(bad.key), undefined);
  ix.close();
  rmSync(dir, { recursive: true });
});

test('build history: builds, per-layer rows (updated in place), documents of failed nodes', () => {
  const dir = tmp();
  const ix = BuildIndex.open(dir);
  const b1 = ix.startBuild({ argv: ['build'], toolVersion: '0.1.0', startedAt: 10 });
  const a = node('a', 2);
  ix.recordNode(a);
  ix.recordBuildNode(b1, { layer: 'a', key: a.key, status: 'built', reason: 'never built', durationMs: 12.4 });
  ix.finishBuild(b1, 'success', { built: 1 });

  const b2 = ix.startBuild({ argv: ['build', '--no-cache'], toolVersion: '0.1.0' });
  assert.ok(b2 > b1);
  const failedDoc = canonicalJson({ layer: 'b', run: 'false' });
  const failedKey = sha256Digest(failedDoc);
  ix.recordBuildNode(b2, { layer: 'a', key: a.key, prevKey: a.key, status: 'cached' });
  ix.recordBuildNode(b2, { layer: 'b', key: failedKey, status: 'built', reason: 'run changed' });
  ix.recordBuildNode(b2, {
    layer: 'b',
    key: failedKey,
    status: 'failed',
    reason: 'run changed',
    reasonDetail: [{ path: 'run', before: 'true', after: 'false' }],
    durationMs: 3,
    inputDocument: failedDoc,
  });
  ix.recordBuildNode(b2, { layer: 'c', status: 'skipped', reason: 'parent b failed' });
  ix.finishBuild(b2, 'failed');

  const builds = ix.listBuilds(10);
  assert.deepEqual(builds.map((b) => b.id), [b2, b1]);
  assert.equal(builds[1]!.outcome, 'success');
  assert.deepEqual(builds[1]!.summary, { built: 1 });
  assert.equal(builds[1]!.startedAt, 10);
  assert.equal(builds[0]!.outcome, 'failed');
  assert.deepEqual(builds[0]!.argv, ['build', '--no-cache']);
  assert.equal(builds[0]!.pid, process.pid);
  assert.ok(builds[0]!.finishedAt !== null);
  assert.equal(ix.listBuilds(1).length, 1);
  assert.equal(ix.getBuild(b1)?.toolVersion, '0.1.0');

  const rows = ix.buildNodes(b2);
  assert.deepEqual(rows.map((r) => [r.layer, r.status]), [['a', 'cached'], ['b', 'failed'], ['c', 'skipped']]);
  assert.equal(rows[0]!.prevKey, a.key);
  assert.deepEqual(rows[1]!.reasonDetail, [{ path: 'run', before: 'true', after: 'false' }]);
  assert.equal(rows[2]!.key, null);
  assert.equal(ix.buildNodes(b1)[0]!.durationMs, 12);
  assert.equal(ix.getDocument(failedKey)?.doc, failedDoc);
  assert.equal(ix.lookup(failedKey), undefined, 'a failed node has no result');
  assert.throws(() => ix.recordBuildNode(b2, { layer: 'x', key: failedKey, status: 'failed', inputDocument: '{}' }));
  ix.close();
  rmSync(dir, { recursive: true });
});

test('bases: resolved references are stored and replaced', () => {
  const dir = tmp();
  const ix = BuildIndex.open(dir);
  assert.equal(ix.getBase('docker://busybox:latest'), undefined);
  ix.putBase('docker://busybox:latest', sha256Digest('v1'), 5);
  assert.deepEqual(ix.getBase('docker://busybox:latest'), {
    ref: 'docker://busybox:latest',
    digest: sha256Digest('v1'),
    resolvedAt: 5,
  });
  ix.putBase('docker://busybox:latest', sha256Digest('v2'));
  assert.equal(ix.getBase('docker://busybox:latest')?.digest, sha256Digest('v2'));
  ix.close();
  rmSync(dir, { recursive: true });
});

test('stat cache rows: bulk save/load, prefix ranges, 64-bit device and inode numbers, delete', () => {
  const dir = tmp();
  const ix = BuildIndex.open(dir);
  const row = (path: string, ino: bigint): StatRow => ({
    path,
    dev: 0xffff_ffff_ffff_fff0n,
    ino,
    size: 12n,
    mtimeNs: 1_700_000_000_123_456_789n,
    ctimeNs: 1_700_000_001_123_456_789n,
    mode: 0o100644,
    digest: sha256Digest(path),
    recordedAtNs: 1_700_000_002_000_000_000n,
  });
  const coarse: StatRow = { ...row('/q/c', 6n), mtimeNs: 1_700_000_000_000_000_000n, ctimeNs: 1_700_000_001_000_000_000n };
  const rows = [row('/p/a', 1n), row('/p/a/b', 2n), row('/p/a0', 3n), row('/p/ab', 2n ** 64n - 1n), row('/p/a/é', 5n), coarse];
  ix.saveStatCache(rows);
  ix.saveStatCache([]);
  const all = ix.loadStatCache();
  assert.equal(all.size, 6);
  // SQLite computes the lookup form (tuple, margin, coarse) exactly as cachedStat does.
  for (const r of rows) assert.deepEqual(all.get(r.path), cachedStat(r), r.path);
  assert.equal(all.get('/q/c')!.coarse, true);
  assert.equal(all.get('/p/ab')!.margin, 876_543_211); // recorded - ctime
  assert.deepEqual([...ix.loadStatCache('/p/a/').keys()].sort(), ['/p/a/b', '/p/a/é']);
  assert.deepEqual([...ix.loadStatCache('/p/a').keys()].sort(), ['/p/a', '/p/a/b', '/p/a/é', '/p/a0', '/p/ab']);
  ix.saveStatCache([{ ...rows[0]!, digest: sha256Digest('changed') }]);
  assert.equal(ix.loadStatCache('/p/a').get('/p/a')?.digest, sha256Digest('changed'));
  ix.deleteStatRows(['/p/a', '/p/missing']);
  assert.equal(ix.loadStatCache().size, 5);
  ix.close();
  rmSync(dir, { recursive: true });
});

test('stat cache through the index: a second check of an unchanged tree hashes nothing', () => {
  const dir = tmp();
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'sub'), { recursive: true });
  for (let i = 0; i < 20; i++) writeFileSync(join(tree, i % 2 ? 'sub' : '', `f${i}`), `content ${i}`);
  const ix = BuildIndex.open(join(dir, 'st'));
  // A clock 10 s ahead makes the fresh rows non-racy (the racy rule has its own tests).
  const later = (): bigint => BigInt(Date.now() + 10_000) * 1_000_000n;
  const v1 = new StatCacheView(ix.loadStatCache(`${tree}/`), { now: later });
  const d1 = digestInput(tree, v1);
  assert.equal(v1.stats.hashedFiles, 20);
  ix.saveStatCache(v1.changedRows());
  ix.close();

  const ix2 = BuildIndex.open(join(dir, 'st'));
  const v2 = new StatCacheView(ix2.loadStatCache(`${tree}/`), { now: later });
  const d2 = digestInput(tree, v2);
  assert.equal(d2.digest, d1.digest);
  assert.equal(v2.stats.hashedFiles, 0);
  assert.equal(v2.stats.hits, 20);
  assert.deepEqual(v2.changedRows(), []);

  // Directory listings round-trip through the trees table.
  ix2.putTree(d1.digest, packEntries(d1.entries!));
  ix2.putTree(d1.digest, packEntries(d1.entries!));
  assert.deepEqual(unpackEntries(ix2.getTree(d1.digest)!), d1.entries);
  assert.equal(ix2.getTree(sha256Digest('none')), undefined);
  ix2.close();
  rmSync(dir, { recursive: true });
});

test('history journal: no-ops bin/stacker.js answered are imported in order, once, on the next open', () => {
  const dir = join(tmp(), 'st');
  BuildIndex.open(dir).close();
  const line = (startedAt: number, pid: number, layers: string[]) => `${JSON.stringify({
    startedAt, finishedAt: startedAt + 7, argv: ['/bin/stacker.js', 'build'], toolVersion: '0.1.0', pid, hostname: 'h',
    nodes: layers.map((l, i) => ({ layer: l, key: sha256Digest(`${l}${i}`) })), summary: { built: 0, cached: layers.length, failed: 0, notRun: 0, durationMs: 7 },
  })}\n`;
  // A leftover of an import that stopped before removing its file (older builds), then the journal:
  // the same build twice (appended again after a rename), a torn last line, and garbage.
  writeFileSync(join(dir, 'history-journal.ndjson.999999-1.importing'), line(1000, 1, ['a']));
  // One of a live importer (pid 1 lives) is its business.
  writeFileSync(join(dir, 'history-journal.ndjson.1-1.importing'), line(500, 5, ['a']));
  writeFileSync(join(dir, 'history-journal.ndjson'), line(2000, 2, ['a', 'b']) + line(2000, 2, ['a', 'b']) + 'not json\n' + line(3000, 3, ['a']).slice(0, 40));
  const ix = BuildIndex.open(dir);
  const builds = ix.listBuilds();
  assert.deepEqual(builds.map((b) => [b.startedAt, b.finishedAt, b.outcome, b.pid]), [[2000, 2007, 'success', 2], [1000, 1007, 'success', 1]]);
  assert.deepEqual(ix.buildNodes(builds[0]!.id).map((n) => [n.layer, n.status]), [['a', 'cached'], ['b', 'cached']]);
  assert.deepEqual(builds[0]!.summary, { built: 0, cached: 2, failed: 0, notRun: 0, durationMs: 7 });
  ix.close();
  assert.deepEqual([existsSync(join(dir, 'history-journal.ndjson')), existsSync(join(dir, 'history-journal.ndjson.999999-1.importing'))], [false, false]);
  assert.ok(existsSync(join(dir, 'history-journal.ndjson.1-1.importing')));
  // Imported once: the next open adds nothing.
  const again = BuildIndex.open(dir);
  assert.equal(again.listBuilds().length, 2);
  again.close();
});
