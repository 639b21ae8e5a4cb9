import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildIndex } from '../../src/cache/index.js';
import type { BuildRecord } from '../../src/cache/index.js';
import type { Digest } from '../../src/core/digest.js';
import { canonicalJson, documentKey } from '../../src/fingerprint/canonical.js';
import { packEntries, type TreeEntry } from '../../src/fingerprint/tree-digest.js';
import type { InputDocument } from '../../src/engine/input-document.js';
import { explainBuild, findLastRebuild, listHistory, outcomeOf } from '../../src/engine/why-history.js';
import { formatDuration, renderHistory, renderWhy } from '../../src/report/why-render.js';
import { doc } from './input-document-fixture.js';

function withIndex(fn: (ix: BuildIndex) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'why-history-'));
  const ix = BuildIndex.open(dir);
  try {
    fn(ix);
  } finally {
    ix.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function withIndexAsync(fn: (ix: BuildIndex) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'why-history-'));
  const ix = BuildIndex.open(dir);
  try {
    await fn(ix);
  } finally {
    ix.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rec = (d: InputDocument): { key: Digest; text: string } => ({ key: documentKey(d), text: canonicalJson(d) });

test('outcome: a running build whose process is gone was killed', () => {
  const b: BuildRecord = { id: 1, startedAt: 0, finishedAt: null, outcome: 'running', argv: [], toolVersion: '0.1.0', pid: 42, hostname: hostname(), summary: null };
  assert.equal(outcomeOf(b, () => false), 'killed');
  assert.equal(outcomeOf(b, () => true), 'running');
  assert.equal(outcomeOf({ ...b, hostname: 'elsewhere' }, () => false), 'running');
  assert.equal(outcomeOf({ ...b, outcome: 'interrupted' }), 'interrupted');
});

test('history: counts per build, killed builds, newest first, as a table', () => {
  withIndex((ix) => {
    const a = rec(doc('a'));
    const b1 = ix.startBuild({ argv: ['/x/bin/stacker.js', 'build'], toolVersion: '0.1.0', startedAt: Date.now() - 1500 });
    ix.recordBuildNode(b1, { layer: 'a', key: a.key, status: 'built', reason: 'never built', durationMs: 5, inputDocument: a.text });
    ix.recordBuildNode(b1, { layer: 'b', status: 'failed', reason: 'never built' });
    ix.recordBuildNode(b1, { layer: 'c', status: 'skipped', reason: 'never built' });
    ix.finishBuild(b1, 'failed');
    // A build whose process died without finishing (pid 2^22+1 is above Linux's pid_max).
    const b2 = ix.startBuild({ argv: ['/x/bin/stacker.js', 'build', '-f', 'y.yaml'], toolVersion: '0.1.0', pid: 4194305 });
    ix.recordBuildNode(b2, { layer: 'a', key: a.key, status: 'cached' });
    ix.recordBuildNode(b2, { layer: 'b', status: 'skipped', reason: 'never built' });
    const h = listHistory(ix, 10);
    assert.deepEqual(h.map((x) => [x.id, x.outcome, x.built, x.cached, x.failed, x.notRun, x.command]), [
      [b2, 'killed', 0, 1, 0, 1, 'stacker build -f y.yaml'],
      [b1, 'failed', 1, 0, 1, 1, 'stacker build'],
    ]);
    assert.equal(h[0]!.durationMs, null);
    assert.equal(listHistory(ix, 1).length, 1);
    const lines = renderHistory(h).split('\n');
    assert.equal(lines[0], 'BUILD  STARTED              OUTCOME  BUILT  CACHED  FAILED  NOT RUN  DURATION  COMMAND');
    assert.match(lines[1]!, /^ {4}2 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}killed {7}0 {7}1 {7}0 {8}1 {9}- {2}stacker build -f y\.yaml$/);
    assert.match(lines[2]!, /^ {4}1 {2}\S+ \S+ {2}failed {7}1 {7}0 {7}1 {8}1 +\S+ (ms|s) {2}stacker build$/);
    assert.equal(renderHistory([]), 'no builds recorded\n');
  });
});

test('formatDuration', () => {
  assert.deepEqual([formatDuration(null), formatDuration(12.4), formatDuration(3210), formatDuration(125_000)], ['-', '12 ms', '3.2 s', '2m05s']);
});

test('explainBuild: recorded reasons; reasons recomputed from documents and listings when none were recorded', async () => {
  await withIndexAsync(async (ix) => {
    const e = (path: string, c: string): TreeEntry => ({ path, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 1, digest: `sha256:${c.repeat(64)}` as Digest });
    const t1 = [{ path: '.', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 } as TreeEntry, e('x', 'a')];
    const t2 = [t1[0]!, e('x', 'b')];
    ix.putTree('sha256:' + '1'.repeat(64), packEntries(t1));
    ix.putTree('sha256:' + '2'.repeat(64), packEntries(t2));
    const imp = (d: string): InputDocument['imports'] => [{ path: 'conf', dest: null, mode: null, uid: null, gid: null, digest: `sha256:${d.repeat(64)}` }];
    const old = rec(doc('app', { imports: imp('1') }));
    const cur = rec(doc('app', { imports: imp('2') }));
    const other = rec(doc('other'));
    const b1 = ix.startBuild({ argv: ['build'], toolVersion: '0.1.0' });
    ix.recordBuildNode(b1, { layer: 'app', key: old.key, status: 'built', reason: 'never built', reasonDetail: [{ kind: 'never-built' }], inputDocument: old.text, durationMs: 1500 });
    ix.recordBuildNode(b1, { layer: 'other', key: other.key, status: 'built', reason: 'never built', reasonDetail: [{ kind: 'never-built' }], inputDocument: other.text });
    ix.finishBuild(b1, 'success');
    const b2 = ix.startBuild({ argv: ['build'], toolVersion: '0.1.0' });
    // As an older stacker recorded it: a reason line, no structured reasons.
    ix.recordBuildNode(b2, { layer: 'app', key: cur.key, prevKey: old.key, status: 'built', reason: 'import conf changed', inputDocument: cur.text, durationMs: 20 });
    ix.recordBuildNode(b2, { layer: 'other', key: other.key, status: 'cached' });
    ix.finishBuild(b2, 'success');
    const b3 = ix.startBuild({ argv: ['build'], toolVersion: '0.1.0' });
    ix.recordBuildNode(b3, { layer: 'app', key: cur.key, status: 'cached' });
    ix.recordBuildNode(b3, { layer: 'other', key: other.key, status: 'cached' });
    ix.finishBuild(b3, 'success');

    assert.equal(findLastRebuild(ix, []), b2);
    assert.equal(findLastRebuild(ix, ['other']), b1);
    assert.equal(findLastRebuild(ix, ['nope']), undefined);

    const r = (await explainBuild(ix, b2, []))!;
    assert.deepEqual(r.layers.map((l) => [l.layer, l.state, l.reason]), [['app', 'built', 'import conf changed'], ['other', 'cached', null]]);
    assert.deepEqual(r.layers[0]!.reasons, [{
      kind: 'import', path: 'conf', dest: null, change: 'content', before: 'sha256:' + '1'.repeat(64), after: 'sha256:' + '2'.repeat(64),
      files: [{ path: 'conf/x', change: 'modified', fields: [{ field: 'content', before: 'sha256:' + 'a'.repeat(64), after: 'sha256:' + 'b'.repeat(64) }] }],
    }]);
    const text = renderWhy({ ...r, upToDate: true }).split('\n');
    assert.equal(text[0], 'nothing would rebuild now; the last build that rebuilt something:');
    assert.match(text[1]!, new RegExp(`^build ${b2} \\(\\S+ \\S+, success, \\d+ ms\\): 1 built, 1 cached$`));
    assert.deepEqual(text.slice(2), [
      '',
      'app: built in 20 ms',
      '  import conf: sha256:111111111111… -> sha256:222222222222…',
      '    conf/x: content sha256:aaaaaaaaaaaa… -> sha256:bbbbbbbbbbbb…',
      '',
      'cached: other',
      '',
    ]);
    assert.deepEqual((await explainBuild(ix, b1, ['other']))!.layers.map((l) => [l.layer, l.reasons]), [['other', [{ kind: 'never-built' }]]]);
    assert.equal(await explainBuild(ix, 999, []), undefined);
  });
});
