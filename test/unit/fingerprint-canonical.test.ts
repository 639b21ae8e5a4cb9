import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, diffDocuments, documentKey } from '../../src/fingerprint/canonical.js';

test('canonicalJson: keys sorted recursively, no whitespace, arrays kept in order', () => {
  const a = { b: 1, a: { d: [3, 1, { z: true, y: null }], c: 'x' }, 'é': 'e', A: -0.5 };
  assert.equal(canonicalJson(a), '{"A":-0.5,"a":{"c":"x","d":[3,1,{"y":null,"z":true}]},"b":1,"é":"e"}');
});

test('canonicalJson: insertion order does not matter; every value change does', () => {
  const a = { run: 'echo hi', env: { B: '2', A: '1' }, imports: [{ path: 'x', digest: 'sha256:1' }] };
  const b = { imports: [{ digest: 'sha256:1', path: 'x' }], env: { A: '1', B: '2' }, run: 'echo hi' };
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.equal(documentKey(a), documentKey(b));
  assert.match(documentKey(a), /^sha256:[0-9a-f]{64}$/);
  assert.notEqual(documentKey(a), documentKey({ ...b, run: 'echo hi ' }));
  assert.notEqual(documentKey(a), documentKey({ ...b, env: { A: '1', B: 2 } }));
  assert.notEqual(documentKey({ l: [1, 2] }), documentKey({ l: [2, 1] }));
  assert.notEqual(documentKey({ a: null }), documentKey({}));
});

test('canonicalJson: a golden key, so an accidental format change is caught', () => {
  assert.equal(canonicalJson({ v: 1, s: 'a"\n\u2028', n: [1e21, 0.1, -0] }), '{"n":[1e+21,0.1,0],"s":"a\\"\\n\u2028","v":1}');
  // sha256 of the bytes {"layer":"app","run":"true"}, computed with sha256sum.
  assert.equal(
    documentKey({ run: 'true', layer: 'app' }),
    'sha256:08debc96aaf5075c773e967ac7e28f0424393ae9e8b84004d76e9d5a9140b6ab',
  );
});

test('canonicalJson: rejects what JSON.stringify would silently drop or coerce', () => {
  const bad: unknown[] = [
    { a: undefined },
    [1, undefined],
    { f: () => 1 },
    { n: Number.NaN },
    { n: Number.POSITIVE_INFINITY },
    { b: 10n },
    { s: Symbol('x') },
    { d: new Date(0) },
    { m: new Map() },
    // eslint-disable-next-line no-sparse-arrays
    [1, , 2],
    undefined,
  ];
  for (const v of bad) assert.throws(() => canonicalJson(v), TypeError, String(v));
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => canonicalJson(cyclic), /cycle at \$\.self/);
  assert.throws(() => canonicalJson({ x: [{ y: undefined }] }), /\$\.x\[0\]\.y/);
  // The same object twice (not a cycle) is fine.
  const shared = { a: 1 };
  assert.equal(canonicalJson({ x: shared, y: shared }), '{"x":{"a":1},"y":{"a":1}}');
  assert.equal(canonicalJson(Object.assign(Object.create(null) as object, { b: 1 })), '{"b":1}');
});

test('diffDocuments: field-by-field, dotted paths, stable order', () => {
  const before = {
    run: 'echo 1',
    environment: { FOO: '1', KEEP: 'k', 'a.b': 'x' },
    imports: [
      { path: './install.sh', digest: 'sha256:aa' },
      { path: './config.json', digest: 'sha256:bb' },
    ],
    base: { type: 'docker', digest: 'sha256:01' },
    labels: ['x'],
  };
  const after = {
    run: 'echo 2',
    environment: { FOO: '2', KEEP: 'k', NEW: 'n', 'a.b': 'y' },
    imports: [
      { path: './install.sh', digest: 'sha256:cc' },
      { path: './config.json', digest: 'sha256:bb' },
    ],
    base: 'scratch',
    labels: ['x', 'y'],
  };
  assert.deepEqual(diffDocuments(before, after), [
    { path: 'base', before: { type: 'docker', digest: 'sha256:01' }, after: 'scratch' },
    { path: 'environment.FOO', before: '1', after: '2' },
    { path: 'environment.NEW', before: undefined, after: 'n' },
    { path: 'environment["a.b"]', before: 'x', after: 'y' },
    { path: 'imports[0].digest', before: 'sha256:aa', after: 'sha256:cc' },
    { path: 'labels', before: ['x'], after: ['x', 'y'] },
    { path: 'run', before: 'echo 1', after: 'echo 2' },
  ]);
  assert.deepEqual(diffDocuments(after, after), []);
  assert.deepEqual(diffDocuments({ a: { b: 1 } }, { a: { b: 1 } }), []);
  assert.deepEqual(diffDocuments(1, 2), [{ path: '', before: 1, after: 2 }]);
  assert.deepEqual(diffDocuments({ x: null }, {}), [{ path: 'x', before: null, after: undefined }]);
});
