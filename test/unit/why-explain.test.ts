import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InputDocument } from '../../src/engine/input-document.js';
import { explain, oneLine, type ExplainContext, type Reason } from '../../src/engine/why.js';
import { plan } from '../../src/engine/plan.js';
import { reasonLines, renderWhy } from '../../src/report/why-render.js';
import type { TreeEntry } from '../../src/fingerprint/tree-digest.js';
import type { Digest } from '../../src/core/digest.js';
import { doc } from './input-document-fixture.js';

const H = (c: string): string => `sha256:${c.repeat(64)}`;

const imp = (path: string, digest: string, over: Partial<InputDocument['imports'][number]> = {}): InputDocument['imports'][number] =>
  ({ path, dest: null, mode: null, uid: null, gid: null, digest, ...over });

const none: ExplainContext = { documentOf: () => undefined, treeOf: () => undefined };

/** The reasons, each as [oneLine, full text lines]. */
function texts(a: InputDocument | undefined, b: InputDocument, ctx: ExplainContext = none): [string, string[]][] {
  return explain(b, a, ctx).map((r) => [oneLine(r), reasonLines(r)]);
}

test('never built', () => {
  assert.deepEqual(texts(undefined, doc('a')), [['never built', ['never built']]]);
});

test('an import file: both digests, and what changed in it from the listings', () => {
  const f = (digest: string, mode: number): TreeEntry[] => [{ path: '.', type: 'file', mode, uid: 0, gid: 0, size: 3, digest: digest as Digest }];
  const trees = new Map([[H('1'), f(H('a'), 0o644)], [H('9'), f(H('b'), 0o755)]]);
  const ctx: ExplainContext = { documentOf: () => undefined, treeOf: (d) => trees.get(d) };
  assert.deepEqual(texts(doc('a', { imports: [imp('./install.sh', H('1'))] }), doc('a', { imports: [imp('./install.sh', H('9'))] }), ctx), [[
    'import ./install.sh changed (111111111111 -> 999999999999)',
    [
      'import ./install.sh: sha256:111111111111… -> sha256:999999999999…',
      '  ./install.sh: mode 0644 -> 0755, content sha256:aaaaaaaaaaaa… -> sha256:bbbbbbbbbbbb…',
    ],
  ]]);
});

test('a directory import names the files inside that changed; a missing listing is said', () => {
  const e = (path: string, digest?: string): TreeEntry => (digest === undefined
    ? { path, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 }
    : { path, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 1, digest: digest as Digest });
  const before = [e('.'), e('a.txt', H('a')), e('gone'), e('sub'), e('sub/b', H('b'))];
  const after = [e('.'), e('a.txt', H('c')), e('new.txt', H('d')), e('sub'), e('sub/b', H('b'))];
  const trees = new Map([[H('1'), before], [H('2'), after]]);
  const ctx: ExplainContext = { documentOf: () => undefined, treeOf: (d) => trees.get(d) };
  const a = doc('a', { imports: [imp('conf/', H('1'))] });
  const b = doc('a', { imports: [imp('conf/', H('2'))] });
  assert.deepEqual(texts(a, b, ctx), [[
    'import conf/ changed (111111111111 -> 222222222222)',
    [
      'import conf/: sha256:111111111111… -> sha256:222222222222…',
      '  conf/a.txt: content sha256:aaaaaaaaaaaa… -> sha256:cccccccccccc…',
      '  conf/gone: removed',
      '  conf/new.txt: added',
    ],
  ]]);
  assert.deepEqual(texts(a, b)[0]![1], [
    'import conf/: sha256:111111111111… -> sha256:222222222222…',
    '  (which files changed is unknown: a listing of the tree is not in the index)',
  ]);
});

test('imports added, removed, placed elsewhere; the same path imported twice is matched by dest', () => {
  const a = doc('a', { imports: [imp('f', H('1'), { dest: '/one' }), imp('f', H('1'), { dest: '/two' }), imp('g', H('2')), imp('old', H('3'))] });
  const b = doc('a', { imports: [imp('f', H('1'), { dest: '/one' }), imp('f', H('1'), { dest: '/two', mode: 0o755 }), imp('g', H('4')), imp('new', H('5'))] });
  assert.deepEqual(texts(a, b), [
    ['import f mode changed ((unset) -> 0755)', ['import f (dest "/two"): mode (unset) -> 0755']],
    ['import g changed (222222222222 -> 444444444444)', ['import g: sha256:222222222222… -> sha256:444444444444…', '  (which files changed is unknown: a listing of the tree is not in the index)']],
    ['new import new', ['import new: new (sha256:555555555555…)']],
    ['import old removed', ['import old: removed (was sha256:333333333333…)']],
  ]);
});

test('the run text as a unified diff', () => {
  const r = texts(doc('a', { run: 'mkdir -p /etc/app\necho 1\n' }), doc('a', { run: 'mkdir -p /etc/app\necho 2\n' }));
  assert.deepEqual(r, [['run changed', ['run:', '  @@ -1,2 +1,2 @@', '   mkdir -p /etc/app', '  -echo 1', '  +echo 2']]]);
});

test('directives by their stacker.yaml names, with both values', () => {
  const a = doc('a', { config: { ...doc('a').config, environment: { FOO: '1', GONE: 'x' }, workingDir: '/a', labels: { 'org.x': 'y' } }, buildOnly: false });
  const b = doc('a', { config: { ...doc('a').config, environment: { FOO: '2', NEW: 'z' }, workingDir: '/b', labels: { 'org.x': 'z' } }, buildOnly: true });
  assert.deepEqual(texts(a, b), [
    ['build_only changed (false -> true)', ['build_only: false -> true']],
    ['environment.FOO changed ("1" -> "2")', ['environment.FOO: "1" -> "2"']],
    ['environment.GONE changed ("x" -> (unset))', ['environment.GONE: "x" -> (unset)']],
    ['environment.NEW changed ((unset) -> "z")', ['environment.NEW: (unset) -> "z"']],
    ['labels["org.x"] changed ("y" -> "z")', ['labels["org.x"]: "y" -> "z"']],
    ['working_dir changed ("/a" -> "/b")', ['working_dir: "/a" -> "/b"']],
  ]);
});

test('the base: a moved tag names both manifests; another base names both', () => {
  const a = doc('a', { base: { type: 'docker', ref: 'docker://r/busybox:latest', manifest: H('1') } });
  const b = doc('a', { base: { type: 'docker', ref: 'docker://r/busybox:latest', manifest: H('2') } });
  assert.deepEqual(texts(a, b), [[
    'base docker://r/busybox:latest changed (111111111111 -> 222222222222)',
    ['base docker://r/busybox:latest now sha256:222222222222… (was sha256:111111111111…)'],
  ]]);
  assert.deepEqual(texts(a, doc('a')), [['base changed (docker://r/busybox:latest -> scratch)', ['base: docker://r/busybox:latest sha256:111111111111… -> scratch']]]);
});

test('SOURCE_DATE_EPOCH, format version and layer codec', () => {
  assert.deepEqual(texts(doc('a'), doc('a', { sourceDateEpoch: '1700000000' })), [['SOURCE_DATE_EPOCH changed ((unset) -> 1700000000)', ['SOURCE_DATE_EPOCH: (unset) -> 1700000000']]]);
  assert.deepEqual(texts(doc('a'), doc('a', { format: 2 })), [["stacker's format version changed (1 -> 2)", ["stacker's format version: 1 -> 2"]]]);
  assert.deepEqual(texts(doc('a'), doc('a', { output: { layerType: 'tar+gzip', recipe: 'r2' } })), [['layer codec changed', ['layer codec changed:', '  was: tar+gzip r1', '  now: tar+gzip r2']]]);
});

test('a rebuilt parent, and the root cause found through the parents', () => {
  const base1 = doc('base', { run: 'echo 1\n' });
  const base2 = doc('base', { run: 'echo 2\n' });
  const mid1 = doc('mid', { base: { type: 'built', parent: 'base' }, parents: [{ name: 'base', key: 'kb1' }] });
  const mid2 = doc('mid', { base: { type: 'built', parent: 'base' }, parents: [{ name: 'base', key: 'kb2' }] });
  const top1 = doc('top', { base: { type: 'built', parent: 'mid' }, parents: [{ name: 'mid', key: 'km1' }] });
  const top2 = doc('top', { base: { type: 'built', parent: 'mid' }, parents: [{ name: 'mid', key: 'km2' }] });
  const docs = new Map([['kb1', base1], ['kb2', base2], ['km1', mid1], ['km2', mid2]]);
  const ctx: ExplainContext = { documentOf: (k) => docs.get(k), treeOf: () => undefined };
  const reasons = explain(top2, top1, ctx);
  assert.equal(oneLine(reasons[0]!), 'parent mid was rebuilt');
  // The root cause layer is not explained on its own: its reasons are given in full.
  assert.deepEqual(reasonLines(reasons[0]!), [
    'parent mid was rebuilt: key km1 -> km2',
    '  root cause: base',
    '    run:',
    '      @@ -1 +1 @@',
    '      -echo 1',
    '      +echo 2',
  ]);
  // When it is, it is named with its one-line reasons.
  assert.deepEqual(reasonLines(reasons[0]!, new Set(['base'])), ['parent mid was rebuilt: key km1 -> km2', '  root cause: base: run changed']);
  assert.deepEqual(reasons[0], { kind: 'parent', parent: 'mid', before: 'km1', after: 'km2', rootCauses: [{ layer: 'base', reasons: [{ kind: 'run', diff: ['@@ -1 +1 @@', '-echo 1', '+echo 2'] }] }] });
  // An unknown earlier document still gives a root cause, saying so.
  assert.deepEqual(reasonLines(explain(top2, top1, none)[0]!), ['parent mid was rebuilt: key km1 -> km2', '  root cause: mid', '    inputs changed (the earlier input document is not in the index)']);
});

test('plan: --no-cache, binds and a miss, with the one-line reason = the first full reason', () => {
  const prev = doc('a', { run: 'echo 1\n' });
  const cur = doc('a', { run: 'echo 2\n' });
  const docs = new Map([['a', { key: 'k2', doc: cur }]]);
  const miss = plan({ order: ['a'], docs, known: new Set(), previous: new Map([['a', prev]]), previousKeys: new Map([['a', 'k1']]), noCache: false });
  assert.deepEqual(miss, [{ name: 'a', key: 'k2', state: 'build', reason: 'run changed', prevKey: 'k1', reasons: [{ kind: 'run', diff: ['@@ -1 +1 @@', '-echo 1', '+echo 2'] }] }]);
  const noCache = plan({ order: ['a'], docs, known: new Set(['k2']), previous: new Map(), noCache: true });
  assert.deepEqual(noCache[0]!.reasons, [{ kind: 'no-cache' }]);
  assert.equal(noCache[0]!.prevKey, 'k2');
  assert.deepEqual(reasonLines(noCache[0]!.reasons![0]!), ['--no-cache']);
  const withBinds = new Map([['a', { key: 'k2', doc: doc('a', { binds: [{ source: 'out', dest: '/out' }] }) }]]);
  const b = plan({ order: ['a'], docs: withBinds, known: new Set(['k2']), previous: new Map(), noCache: false })[0]!;
  assert.equal(b.reason, 'rebuilding cached layer due to use of binds in stacker file');
  assert.deepEqual(reasonLines(b.reasons![0]!), ['binds: a layer with binds always rebuilds (out -> /out)']);
  // A key that is not known always builds, even when its last record reads the same.
  assert.equal(plan({ order: ['a'], docs, known: new Set(), previous: new Map([['a', cur]]), noCache: false })[0]!.reason, 'inputs changed');
});

test('renderWhy: a dry run lists each layer with every reason, cached ones last', () => {
  const reasons: Reason[] = [{ kind: 'run', diff: ['@@ -1 +1 @@', '-a', '+b'] }, { kind: 'directive', path: 'environment.FOO', before: '1', after: '2' }];
  const text = renderWhy({
    mode: 'dry-run', build: null, upToDate: false,
    layers: [
      { layer: 'app', state: 'would-rebuild', key: 'k', prevKey: 'p', reason: 'run changed', reasons, durationMs: null },
      { layer: 'child', state: 'would-rebuild', key: 'k', prevKey: 'p', reason: 'parent app was rebuilt', reasons: [{ kind: 'parent', parent: 'app', before: H('1'), after: H('2'), rootCauses: [{ layer: 'app', reasons }] }], durationMs: null },
      { layer: 'other', state: 'cached', key: 'k', prevKey: null, reason: null, reasons: [], durationMs: null },
    ],
  });
  assert.equal(text, [
    'would rebuild 2 of 3 layers (dry run: nothing was built)',
    '',
    'app: would rebuild',
    '  run:',
    '    @@ -1 +1 @@',
    '    -a',
    '    +b',
    '  environment.FOO: "1" -> "2"',
    '',
    'child: would rebuild',
    '  parent app was rebuilt: key 111111111111 -> 222222222222',
    '    root cause: app: run changed; environment.FOO changed ("1" -> "2")',
    '',
    'cached: other',
    '',
  ].join('\n'));
});

test('renderWhy: nothing would rebuild and no build rebuilt anything', () => {
  const none = { mode: 'none' as const, build: null, upToDate: true, layers: [] };
  assert.equal(renderWhy(none), 'nothing would rebuild, and no recorded build rebuilt anything\n');
  assert.equal(renderWhy(none, ['app', 'lib']), 'nothing would rebuild, and no recorded build rebuilt app, lib\n');
});
