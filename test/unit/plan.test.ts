import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from '../../src/engine/plan.js';
import { doc } from './input-document-fixture.js';

test('plan: known keys are cached, unknown ones say why', () => {
  const prevApp = doc('app', { imports: [{ path: 'install.sh', dest: null, mode: null, uid: null, gid: null, digest: 'sha256:' + '1'.repeat(64) }] });
  const newApp = doc('app', { imports: [{ path: 'install.sh', dest: null, mode: null, uid: null, gid: null, digest: 'sha256:' + '9'.repeat(64) }] });
  const docs = new Map([['base', { key: 'k-base', doc: doc('base') }], ['app', { key: 'k-app2', doc: newApp }], ['new', { key: 'k-new', doc: doc('new') }]]);
  const steps = plan({ order: ['base', 'app', 'new'], docs, known: new Set(['k-base']), previous: new Map([['app', prevApp]]), noCache: false });
  assert.deepEqual(steps.map((s) => [s.name, s.state]), [['base', 'cached'], ['app', 'build'], ['new', 'build']]);
  assert.equal(steps[1]!.reason, 'import install.sh changed (111111111111 -> 999999999999)');
  assert.equal(steps[2]!.reason, 'never built');
});

test('plan: a rebuilt parent is named; run edits and binds explained; --no-cache rebuilds all', () => {
  const base = doc('base', { run: 'echo 2' });
  const child = doc('child', { parents: [{ name: 'base', key: 'k-base2' }] });
  const docs = new Map([['base', { key: 'k-base2', doc: base }], ['child', { key: 'k-child2', doc: child }]]);
  const previous = new Map([['base', doc('base', { run: 'echo 1' })], ['child', doc('child', { parents: [{ name: 'base', key: 'k-base1' }] })]]);
  const steps = plan({ order: ['base', 'child'], docs, known: new Set(), previous, noCache: false });
  assert.equal(steps[0]!.reason, 'run changed');
  assert.equal(steps[1]!.reason, 'parent base was rebuilt');
  const all = plan({ order: ['base', 'child'], docs, known: new Set(['k-base2', 'k-child2']), previous, noCache: true });
  assert.ok(all.every((s) => s.state === 'build' && s.reason === '--no-cache'));
  const withBinds = new Map([['b', { key: 'k', doc: doc('b', { binds: [{ source: 'out', dest: '/out' }] }) }]]);
  assert.equal(plan({ order: ['b'], docs: withBinds, known: new Set(['k']), previous: new Map(), noCache: false })[0]!.reason,
    'rebuilding cached layer due to use of binds in stacker file');
});
