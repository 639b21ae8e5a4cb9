import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffLines, unifiedDiff } from '../../src/engine/why-line-diff.js';

test('unifiedDiff: equal texts give nothing; a change gives a hunk with context', () => {
  assert.deepEqual(unifiedDiff('a\nb\n', 'a\nb\n'), []);
  assert.deepEqual(unifiedDiff('a\nb\nc\n', 'a\nB\nc\n'), ['@@ -1,3 +1,3 @@', ' a', '-b', '+B', ' c']);
  assert.deepEqual(unifiedDiff('', 'x\ny\n'), ['@@ -0,0 +1,2 @@', '+x', '+y']);
  assert.deepEqual(unifiedDiff('x\ny\n', ''), ['@@ -1,2 +0,0 @@', '-x', '-y']);
  assert.deepEqual(unifiedDiff('echo 1', 'echo 1\n'), ['@@ -1 +1 @@', '-echo 1', '\\ No newline at end of file', '+echo 1']);
});

test('unifiedDiff: changes far apart make separate hunks', () => {
  const a = 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n';
  const b = 'a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\n';
  assert.deepEqual(unifiedDiff(a, b), ['@@ -1,5 +1,5 @@', ' a', '-b', '+B', ' c', ' d', ' e', '@@ -8,3 +8,4 @@', ' h', ' i', ' j', '+k']);
});

/** A random text over a small alphabet of lines, so that diffs have long common runs. */
function randomText(rand: () => number): string {
  const n = Math.floor(rand() * 25);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(['echo a', 'echo b', 'cd /', 'make', '', 'apt-get install x'][Math.floor(rand() * 6)]!);
  return lines.join('\n') + (rand() < 0.8 && n > 0 ? '\n' : '');
}

function mulberry32(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('diffLines: a shortest edit script that rebuilds both texts (random texts)', () => {
  const rand = mulberry32(7);
  for (let i = 0; i < 500; i++) {
    const a = randomText(rand).split('\n');
    const b = randomText(rand).split('\n');
    const ops = diffLines(a, b);
    assert.deepEqual(ops.filter((o) => o.type !== '+').map((o) => o.line), a);
    assert.deepEqual(ops.filter((o) => o.type !== '-').map((o) => o.line), b);
    // Minimal: as many kept lines as the longest common subsequence.
    const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
    for (let x = a.length - 1; x >= 0; x--) {
      for (let y = b.length - 1; y >= 0; y--) lcs[x]![y] = a[x] === b[y] ? lcs[x + 1]![y + 1]! + 1 : Math.max(lcs[x + 1]![y]!, lcs[x]![y + 1]!);
    }
    assert.equal(ops.filter((o) => o.type === ' ').length, lcs[0]![0]);
  }
});

test('unifiedDiff: hunks that GNU patch applies (random texts)', { skip: spawnSync('patch', ['--version']).status !== 0 ? 'no patch(1)' : false }, () => {
  const rand = mulberry32(11);
  const dir = mkdtempSync(join(tmpdir(), 'why-diff-'));
  try {
    for (let i = 0; i < 100; i++) {
      const a = randomText(rand);
      const b = randomText(rand);
      const hunks = unifiedDiff(a, b);
      if (a === b) {
        assert.deepEqual(hunks, []);
        continue;
      }
      writeFileSync(join(dir, 'f'), a);
      writeFileSync(join(dir, 'p'), ['--- f', '+++ f', ...hunks, ''].join('\n'));
      const r = spawnSync('patch', ['-s', '--no-backup-if-mismatch', '-F0', '-p0', 'f', 'p'], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}\n${JSON.stringify(a)} -> ${JSON.stringify(b)}\n${hunks.join('\n')}`);
      assert.equal(readFileSync(join(dir, 'f'), 'utf8'), b, `${JSON.stringify(a)} -> ${JSON.stringify(b)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
