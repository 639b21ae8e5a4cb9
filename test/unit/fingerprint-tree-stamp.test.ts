import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BuildIndex } from '../../src/cache/index.js';
import { StatCacheView } from '../../src/fingerprint/stat-cache.js';
import { digestInput } from '../../src/fingerprint/tree-digest.js';

/** A clock 10 s ahead: stamps and rows recorded with it are never racily clean. */
const later = (): bigint => BigInt(Date.now() + 10_000) * 1_000_000n;

/** Waits past the filesystem's timestamp granule, so that an edit is not in the granule of the last walk. */
function nextGranule(): void {
  const until = Date.now() + 15;
  while (Date.now() < until) { /* spin: a few ms */ }
}

const fresh = (p: string): string => digestInput(p, new StatCacheView(), { ownership: false }).digest;

function tree(): string {
  const root = join(mkdtempSync(join(tmpdir(), 'stacker-stamp-')), 'in');
  mkdirSync(join(root, 'a', 'b'), { recursive: true });
  for (let i = 0; i < 6; i++) writeFileSync(join(root, i % 2 ? 'a' : 'a/b', `f${i}`), `content ${i}\n`);
  symlinkSync('f1', join(root, 'a', 'l'));
  return root;
}

/** Builds like a build does: the index's rows and stamps in, changed ones saved back. */
function checker(root: string, ix: BuildIndex) {
  return (opts: { failOnRowLoad?: boolean } = {}) => {
    const view = new StatCacheView(
      () => {
        if (opts.failOnRowLoad) throw new Error('per-file rows were loaded');
        return ix.loadStatCache();
      },
      { now: later, trees: ix.loadTreeStamps() },
    );
    const d = digestInput(root, view, { ownership: false });
    ix.saveStatCache(view.changedRows());
    ix.saveTreeStamps(view.changedTrees());
    return { d, stats: view.stats };
  };
}

test('an unchanged directory matches its tree stamp: same digest, no per-file rows loaded, no listing', () => {
  const root = tree();
  const ix = BuildIndex.open(join(root, '..', 'st'));
  const check = checker(root, ix);
  const first = check();
  assert.ok(first.d.entries !== undefined);
  assert.equal(first.stats.treeHits, 0);
  const again = check({ failOnRowLoad: true });
  assert.equal(again.d.digest, first.d.digest);
  assert.equal(again.stats.treeHits, 1);
  assert.equal(again.d.entries, undefined);
  ix.close();
});

test('every change of the tree misses the stamp and gives the digest of a fresh walk; a touch keeps the digest', () => {
  const root = tree();
  const ix = BuildIndex.open(join(root, '..', 'st'));
  const check = checker(root, ix);
  let prev = check().d.digest;
  const f = (rel: string): string => join(root, rel);
  const changes: [string, () => void, boolean][] = [
    ['same-size rewrite', () => writeFileSync(f('a/f1'), 'CONTENT 1\n'), true],
    ['touch', () => utimesSync(f('a/f3'), new Date(), new Date()), false],
    ['same-size edit with the mtime put back (only ctime tells)', () => {
      execFileSync('touch', ['-r', f('a/f3'), join(root, '..', 'ref')]); // keeps the ns of both times
      writeFileSync(f('a/f3'), 'content 9\n');
      execFileSync('touch', ['-r', join(root, '..', 'ref'), f('a/f3')]);
      unlinkSync(join(root, '..', 'ref'));
    }, true],
    ['chmod', () => chmodSync(f('a/b/f0'), 0o600), true],
    ['new file', () => writeFileSync(f('a/new'), 'x'), true],
    ['removed file', () => unlinkSync(f('a/new')), true],
    ['rename', () => renameSync(f('a/b/f2'), f('a/b/f2b')), true],
    ['symlink retargeted', () => {
      unlinkSync(f('a/l'));
      symlinkSync('f3', f('a/l'));
    }, true],
    ['new inode, same content', () => {
      writeFileSync(f('a/f5.tmp'), 'content 5\n');
      renameSync(f('a/f5.tmp'), f('a/f5'));
    }, false],
    ['empty directory', () => mkdirSync(f('a/b/empty')), true],
    ['nothing', () => {}, false],
  ];
  for (const [what, change, real] of changes) {
    nextGranule();
    change();
    const r = check();
    assert.equal(r.d.digest, fresh(root), `${what}: the digest of a fresh walk`);
    assert.equal(r.d.digest !== prev, real, `${what}: ${real ? 'a change' : 'no change'}`);
    if (what === 'nothing') assert.equal(r.stats.treeHits, 1, 'nothing changed: the stamp holds');
    else assert.equal(r.stats.treeHits, 0, `${what}: the stamp does not hold`);
    prev = r.d.digest;
  }
  assert.deepEqual(readdirSync(f('a/b')).sort(), ['empty', 'f0', 'f2b', 'f4']);
  ix.close();
});

test('a stamp recorded within the racy window of a change is not trusted', () => {
  const root = tree();
  const ix = BuildIndex.open(join(root, '..', 'st'));
  // The real clock: the tree was written just now, within 2 s of the stamp.
  const view = () => new StatCacheView(() => ix.loadStatCache(), { trees: ix.loadTreeStamps() });
  const v1 = view();
  const d1 = digestInput(root, v1);
  ix.saveTreeStamps(v1.changedTrees());
  const v2 = view();
  assert.equal(digestInput(root, v2).digest, d1.digest);
  assert.equal(v2.stats.treeHits, 0);
  ix.close();
  rmSync(join(root, '..'), { recursive: true, force: true });
});
