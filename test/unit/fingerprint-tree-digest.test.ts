import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Digest } from '../../src/core/digest.js';
import { StackerError } from '../../src/core/errors.js';
import { StatCacheView, racyWindowFor } from '../../src/fingerprint/stat-cache.js';
import { cachedStats, type StatRow } from '../../src/fingerprint/stat-cache.js';
import { diffTrees, digestInput, packEntries, unpackEntries } from '../../src/fingerprint/tree-digest.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'stacker-fp-'));
}

/** A clock 10 s ahead: rows recorded with it are never racily clean. */
const later = (): bigint => BigInt(Date.now() + 10_000) * 1_000_000n;

/** A view that carries rows from one "build" to the next, like the index does. */
class Runs {
  rows = new Map<string, StatRow>();
  last!: StatCacheView;
  constructor(private readonly now: () => bigint = later) {}
  digest(p: string): string {
    this.last = new StatCacheView(cachedStats(this.rows.values()), { now: this.now });
    const d = digestInput(p, this.last).digest;
    for (const r of this.last.changedRows()) this.rows.set(r.path, r);
    return d;
  }
}

/**
 * Waits past the filesystem's timestamp granule (a kernel tick, <= 10 ms): the tests that use the
 * 10-s-ahead clock disable the racy rule, so their edits must land in a later granule.
 */
function nextGranule(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
}

const fresh = (p: string): string => digestInput(p, new StatCacheView()).digest;

test('a file: content digest is reused while the stat tuple matches; touch costs one re-hash, same digest', () => {
  const dir = tmp();
  const f = join(dir, 'install.sh');
  writeFileSync(f, 'echo hello\n');
  const runs = new Runs();
  const d1 = runs.digest(f);
  assert.equal(runs.last.stats.hashedFiles, 1);
  const d2 = runs.digest(f);
  assert.equal(d2, d1);
  assert.equal(runs.last.stats.hashedFiles, 0, 'unchanged: no hash');
  assert.equal(runs.last.stats.hits, 1);

  utimesSync(f, new Date(), new Date(Date.now() - 60_000));
  assert.equal(runs.digest(f), d1, 'touch does not change the digest');
  assert.equal(runs.last.stats.hashedFiles, 1, 'the stat tuple changed: re-hash to confirm');
  assert.equal(runs.digest(f), d1);
  assert.equal(runs.last.stats.hashedFiles, 0, 'and the refreshed row is used after that');

  const entry = digestInput(f, new StatCacheView()).entries![0]!;
  assert.equal(entry.path, '.');
  assert.equal(entry.digest, `sha256:${createHash('sha256').update('echo hello\n').digest('hex')}`);
  rmSync(dir, { recursive: true });
});

test('a same-size edit with mtime restored is caught through ctime', () => {
  const dir = tmp();
  const f = join(dir, 'config.json');
  writeFileSync(f, '{"a":1}');
  utimesSync(f, 1_600_000_000, 1_600_000_000); // whole seconds: restorable exactly below
  const runs = new Runs();
  const d1 = runs.digest(f);
  const before = statSync(f, { bigint: true });
  nextGranule();
  writeFileSync(f, '{"a":2}');
  utimesSync(f, 1_600_000_000, 1_600_000_000);
  const after = statSync(f, { bigint: true });
  assert.equal(after.mtimeNs, before.mtimeNs);
  assert.equal(after.size, before.size);
  const d2 = runs.digest(f);
  assert.notEqual(d2, d1);
  assert.equal(d2, fresh(f));
  assert.equal(runs.last.stats.hashedFiles, 1);
  rmSync(dir, { recursive: true });
});

test('racily clean rows are re-hashed; rows recorded well after the last change are trusted', () => {
  const dir = tmp();
  const f = join(dir, 'f');
  writeFileSync(f, 'new content');
  const st = lstatSync(f, { bigint: true });
  const wrong = `sha256:${'0'.repeat(64)}` as Digest;
  const row = (recordedAtNs: bigint): ReturnType<typeof cachedStats> =>
    cachedStats([
      {
        path: f,
        dev: st.dev,
        ino: st.ino,
        size: st.size,
        mtimeNs: st.mtimeNs,
        ctimeNs: st.ctimeNs,
        mode: Number(st.mode),
        digest: wrong,
        recordedAtNs,
      },
    ]);
  // The row claims the content was hashed in the same instant as the file's last change: a write
  // in the same timestamp granule could have followed the hash unseen. Distrust it.
  const racy = new StatCacheView(row(st.ctimeNs));
  const d = digestInput(f, racy);
  assert.equal(racy.stats.racy, 1);
  assert.equal(racy.stats.hashedFiles, 1);
  assert.equal(d.digest, fresh(f));
  assert.equal(racy.changedRows().length, 1, 'the refreshed row is saved');
  // 50 ms after the change is still inside the 100 ms window of a ns-timestamp filesystem.
  const near = new StatCacheView(row(st.ctimeNs + 50_000_000n));
  digestInput(f, near);
  assert.equal(near.stats.racy, 1);
  // Recorded 10 s after the change: trusted without reading the file (it even returns the
  // planted wrong digest, which proves the file was not read).
  const trusted = new StatCacheView(row(st.ctimeNs + 10_000_000_000n));
  const t = digestInput(f, trusted);
  assert.equal(trusted.stats.hashedFiles, 0);
  assert.equal(t.entries![0]!.digest, wrong);
  rmSync(dir, { recursive: true });
});

test('racy window: whole-second timestamps get the coarse window', () => {
  assert.equal(racyWindowFor(1_700_000_000_000_000_000n, 1_700_000_001_000_000_000n), 2_000_000_000n);
  assert.equal(racyWindowFor(1_700_000_000_000_000_001n, 1_700_000_001_000_000_000n), 100_000_000n);
});

test('a directory: names, types, modes, owners, contents, symlink targets and empty dirs count; mtimes do not', () => {
  const dir = tmp();
  const t = join(dir, 't');
  mkdirSync(join(t, 'sub', 'deep'), { recursive: true });
  writeFileSync(join(t, 'a.txt'), 'A');
  writeFileSync(join(t, 'sub', 'b.txt'), 'B');
  symlinkSync('../a.txt', join(t, 'sub', 'link'));
  const runs = new Runs();
  const d0 = runs.digest(t);
  const steps: Array<[string, () => void, boolean]> = [
    ['touch a file', () => utimesSync(join(t, 'a.txt'), new Date(), new Date(1_000_000)), false],
    ['touch a dir', () => utimesSync(join(t, 'sub'), new Date(), new Date(2_000_000)), false],
    ['add an empty dir', () => mkdirSync(join(t, 'sub', 'empty')), true],
    ['chmod a file', () => chmodSync(join(t, 'a.txt'), 0o600), true],
    ['setuid bit', () => chmodSync(join(t, 'a.txt'), 0o4600), true],
    ['chmod a dir', () => chmodSync(join(t, 'sub', 'deep'), 0o700), true],
    ['retarget a symlink', () => (unlinkSync(join(t, 'sub', 'link')), symlinkSync('b.txt', join(t, 'sub', 'link'))), true],
    ['edit content', () => writeFileSync(join(t, 'sub', 'b.txt'), 'C'), true],
    ['rewrite the same content', () => writeFileSync(join(t, 'sub', 'b.txt'), 'C'), false],
    ['rename', () => execFileSync('mv', [join(t, 'a.txt'), join(t, 'a2.txt')]), true],
    ['hardlink', () => linkSync(join(t, 'a2.txt'), join(t, 'sub', 'hl')), true],
  ];
  let prev = d0;
  for (const [what, mutate, changes] of steps) {
    nextGranule();
    mutate();
    const d = runs.digest(t);
    assert.equal(d !== prev, changes, what);
    assert.equal(d, fresh(t), `${what}: cached and fresh digests agree`);
    prev = d;
  }
  const entries = digestInput(t, new StatCacheView()).entries!;
  assert.deepEqual(
    entries.map((e) => [e.path, e.type]),
    [
      ['.', 'dir'],
      ['a2.txt', 'file'],
      ['sub', 'dir'],
      ['sub/b.txt', 'file'],
      ['sub/deep', 'dir'],
      ['sub/empty', 'dir'],
      ['sub/hl', 'file'],
      ['sub/link', 'symlink'],
    ],
  );
  assert.equal(entries.find((e) => e.path === 'sub/hl')?.link, 'a2.txt');
  assert.equal(entries.find((e) => e.path === 'a2.txt')?.mode, 0o4600);
  assert.equal(entries.find((e) => e.path === 'sub/link')?.target, 'b.txt');
  rmSync(dir, { recursive: true });
});

test('the digest holds no host path: a copy elsewhere digests the same', () => {
  const dir = tmp();
  const t = join(dir, 'proj', 'files');
  mkdirSync(join(t, 'x'), { recursive: true });
  writeFileSync(join(t, 'x', 'f'), 'data');
  symlinkSync('/etc/passwd', join(t, 'abs'));
  execFileSync('cp', ['-a', join(dir, 'proj'), join(dir, 'elsewhere')]);
  assert.equal(fresh(join(dir, 'elsewhere', 'files')), fresh(t));
  assert.equal(fresh(join(dir, 'elsewhere', 'files', 'x', 'f')), fresh(join(t, 'x', 'f')));
  rmSync(dir, { recursive: true });
});

test('symlinks are not followed: a top-level link is digested as the link; trees do not descend through links', () => {
  const dir = tmp();
  mkdirSync(join(dir, 'outside'));
  writeFileSync(join(dir, 'outside', 'f'), '1');
  mkdirSync(join(dir, 't'));
  symlinkSync('../outside', join(dir, 't', 'out'));
  symlinkSync('outside', join(dir, 'toplink'));
  const tree = fresh(join(dir, 't'));
  const link = digestInput(join(dir, 'toplink'), new StatCacheView());
  assert.equal(link.type, 'symlink');
  assert.equal(link.entries![0]!.target, 'outside');
  writeFileSync(join(dir, 'outside', 'f'), '2');
  assert.equal(fresh(join(dir, 't')), tree);
  assert.equal(fresh(join(dir, 'toplink')), link.digest);
  unlinkSync(join(dir, 'toplink'));
  symlinkSync('outside/', join(dir, 'toplink'));
  assert.notEqual(fresh(join(dir, 'toplink')), link.digest);
  rmSync(dir, { recursive: true });
});

test('types are distinguished: file, dir, symlink, missing, and an empty file vs an empty dir', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'e'), '');
  mkdirSync(join(dir, 'd'));
  const missing = digestInput(join(dir, 'nope'), new StatCacheView());
  assert.equal(missing.type, 'missing');
  assert.equal(missing.entries, undefined);
  assert.equal(missing.digest, fresh(join(dir, 'nope', 'deeper')));
  const ef = digestInput(join(dir, 'e'), new StatCacheView());
  const ed = digestInput(join(dir, 'd'), new StatCacheView());
  assert.equal(ef.type, 'file');
  assert.equal(ed.type, 'dir');
  assert.equal(new Set([missing.digest, ef.digest, ed.digest]).size, 3);
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  assert.throws(
    () => digestInput(join(dir, 'fifo'), new StatCacheView()),
    (e: unknown) => e instanceof StackerError && e.code === 'STACKER_E_IMPORT_TYPE',
  );
  // Inside a tree a fifo is an entry like any other.
  mkdirSync(join(dir, 'withfifo'));
  execFileSync('mkfifo', [join(dir, 'withfifo', 'p')]);
  assert.equal(digestInput(join(dir, 'withfifo'), new StatCacheView()).entries![1]!.type, 'fifo');
  rmSync(dir, { recursive: true });
});

test('names that are not UTF-8 are refused instead of being hashed lossily', () => {
  const dir = tmp();
  writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x66, 0xff])]), 'x');
  assert.throws(
    () => digestInput(dir, new StatCacheView()),
    (e: unknown) => e instanceof StackerError && e.code === 'STACKER_E_IMPORT_NAME',
  );
  rmSync(dir, { recursive: true });
});

test('entry lists pack compactly, round-trip, and diff per path', () => {
  const dir = tmp();
  const t = join(dir, 't');
  mkdirSync(join(t, 'd'), { recursive: true });
  for (let i = 0; i < 200; i++) writeFileSync(join(t, 'd', `file-${i}.txt`), `content ${i}`);
  symlinkSync('d/file-1.txt', join(t, 'l'));
  linkSync(join(t, 'd', 'file-2.txt'), join(t, 'h'));
  const a = digestInput(t, new StatCacheView());
  const packed = packEntries(a.entries!);
  assert.deepEqual(unpackEntries(packed), a.entries);
  const json = Buffer.byteLength(JSON.stringify(a.entries));
  assert.ok(packed.length < json / 2, `packed ${packed.length} bytes vs ${json} bytes of JSON`);

  writeFileSync(join(t, 'd', 'file-7.txt'), 'changed');
  chmodSync(join(t, 'd', 'file-8.txt'), 0o755);
  unlinkSync(join(t, 'd', 'file-9.txt'));
  writeFileSync(join(t, 'new'), '');
  const b = digestInput(t, new StatCacheView());
  assert.deepEqual(
    diffTrees(a.entries!, b.entries!).map((c) => [c.path, c.change, c.fields]),
    [
      ['d/file-7.txt', 'modified', ['content']],
      ['d/file-8.txt', 'modified', ['mode']],
      ['d/file-9.txt', 'removed', []],
      ['new', 'added', []],
    ],
  );
  rmSync(dir, { recursive: true });
});

test('stalePaths names rows of files that disappeared from a walked directory', () => {
  const dir = tmp();
  mkdirSync(join(dir, 't'));
  writeFileSync(join(dir, 't', 'keep'), 'k');
  writeFileSync(join(dir, 't', 'gone'), 'g');
  const runs = new Runs();
  runs.digest(join(dir, 't'));
  unlinkSync(join(dir, 't', 'gone'));
  runs.digest(join(dir, 't'));
  assert.deepEqual(runs.last.stalePaths(), [join(dir, 't', 'gone')]);
  rmSync(dir, { recursive: true });
});
