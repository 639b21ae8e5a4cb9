import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildLayerGraph } from '../../src/graph/build-graph.js';
import { buildTolerantGraph, describeCycle, stableOrder } from '../../src/graph/tolerant-graph.js';
import { stableTopoOrder } from '../../src/graph/build-graph.js';
import { makeGraphView, type LayerStatus } from '../../src/graph/view.js';
import { load, project } from '../fixtures/config/helpers.js';
import { K, fixtureView } from './graph-fixture.js';

const CYCLIC = [
  'a:',
  '  from: {type: built, tag: b}',
  'b:',
  '  from: {type: tar, url: stacker://a/out.tar}',
  'c:',
  '  from: {type: built, tag: a}',
  'd:',
  '  from: {type: built, tag: ghost}',
  'e:',
  '  from: {type: scratch}',
  '  imports: [stacker://e/x]',
  'f:',
  '  from: {type: scratch}',
  '',
].join('\n');

describe('graph: tolerant graph', () => {
  it('orders a DAG exactly as buildLayerGraph does, blocking nothing', async () => {
    const { view: _v, dir } = await fixtureView();
    const { spec } = await load(dir);
    const g = buildTolerantGraph(spec);
    assert.deepEqual(g.order, buildLayerGraph(spec).order);
    assert.deepEqual(g.cycles, []);
    assert.equal(g.blocked.size, 0);
    assert.equal(g.missing.size, 0);
  });

  it('stableOrder is stableTopoOrder', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const edges = [['e', 'a'], ['c', 'b'], ['g', 'd'], ['a', 'd'], ['f', 'b'], ['a', 'b'], ['a', 'b']].map(([from, to]) => ({ from: from!, to: to!, kind: 'built' as const, location: { file: 'x', line: 1, col: 1 } }));
    assert.deepEqual(stableOrder(names, edges), stableTopoOrder(names, edges));
    assert.deepEqual(stableOrder(names, edges), ['c', 'e', 'a', 'f', 'b', 'g', 'd']);
  });

  it('keeps cycles (with the edges that form them), self-loops and missing layers instead of throwing', async () => {
    const dir = await project({ 'stacker.yaml': CYCLIC });
    const { spec } = await load(dir);
    assert.throws(() => buildLayerGraph(spec));
    const g = buildTolerantGraph(spec);
    assert.deepEqual(g.cycles.map((c) => c.layers), [['a', 'b'], ['e']]);
    assert.deepEqual(g.cycles[0]!.edges.map((e) => `${e.from}->${e.to}:${e.kind}`), ['a->b:tar', 'b->a:built']);
    assert.equal(describeCycle(g.cycles[0]!), 'a -> b (tar stacker://a/out.tar) -> a (built)');
    assert.deepEqual([...g.missing.keys()], ['ghost']);
    assert.deepEqual(Object.fromEntries(g.blocked), {
      a: 'in a dependency cycle: a -> b -> a',
      b: 'in a dependency cycle: a -> b -> a',
      e: 'in a dependency cycle: e -> e',
      d: 'missing dependency layer ghost',
      c: 'depends on a, which cannot be planned',
    });
    // Every layer is still ordered; f is plannable.
    assert.deepEqual([...g.order].sort(), ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.equal(g.blocked.has('f'), false);
  });
});

describe('graph: view model', () => {
  it('has file, layer and shared base nodes with their states, typed edges and a summary', async () => {
    const { view } = await fixtureView();
    assert.equal(view.version, 1);
    assert.equal(view.root, 'stacker.yaml');
    assert.deepEqual(view.files.map((f) => [f.id, f.prerequisites, f.layers]), [
      ['file:base/stacker.yaml', [], ['layer:base']],
      ['file:stacker.yaml', ['file:base/stacker.yaml'], ['layer:app', 'layer:tools', 'layer:data', 'layer:fresh']],
    ]);
    assert.deepEqual(view.nodes.map((n) => `${n.id} ${n.state}`), [
      'file:base/stacker.yaml null',
      'file:stacker.yaml null',
      'layer:base cached',
      'base:docker:docker://reg.example/busybox:1 external',
      'layer:tools cached',
      'layer:app stale',
      'layer:data stale',
      'layer:fresh never_built',
    ]);
    const byId = new Map(view.nodes.map((n) => [n.id, n]));
    assert.deepEqual(byId.get('layer:base'), {
      id: 'layer:base', kind: 'layer', name: 'base', file: 'file:base/stacker.yaml', baseType: null, state: 'cached', buildOnly: false,
      key: K('1'), manifest: K('2'), digest: null, reason: null, inCycle: false,
    });
    assert.equal(byId.get('layer:tools')!.buildOnly, true);
    assert.equal(byId.get('layer:app')!.reason, 'run changed');
    assert.equal(byId.get('layer:app')!.manifest, null);
    assert.equal(byId.get('base:docker:docker://reg.example/busybox:1')!.digest, K('a'));
    assert.deepEqual(view.edges.map((e) => `${e.from} -${e.type}-> ${e.to}${e.via !== null ? ` ${e.via}` : ''}`), [
      'file:base/stacker.yaml -prerequisite-> file:stacker.yaml',
      'base:docker:docker://reg.example/busybox:1 -base-> layer:base',
      'base:docker:docker://reg.example/busybox:1 -base-> layer:tools',
      'layer:base -built-> layer:app',
      'layer:tools -import-> layer:app stacker://tools/bin/tool',
      'layer:app -tar-> layer:data stacker://app/out.tar',
    ]);
    assert.deepEqual(view.summary, { layers: 5, cached: 2, stale: 2, never_built: 1, unknown: 0, build_only: 1, bases: 1, cycles: 0 });
  });

  it('marks a base that could not be resolved unknown with its error, and unplanned layers unknown', async () => {
    const dir = await project({ 'stacker.yaml': 'img:\n  from: {type: docker, url: "docker://other.example/x:1"}\nchild:\n  from: {type: built, tag: img}\n' });
    const { spec } = await load(dir);
    const view = makeGraphView({ spec, graph: buildTolerantGraph(spec), layers: new Map(), bases: new Map([['img', { digest: null, error: 'cannot reach registry other.example' }]]), cwd: dir });
    const base = view.nodes.find((n) => n.kind === 'base')!;
    assert.deepEqual([base.state, base.reason, base.digest], ['unknown', 'cannot reach registry other.example', null]);
    assert.deepEqual(view.nodes.filter((n) => n.kind === 'layer').map((n) => [n.name, n.state, n.reason]), [['img', 'unknown', 'not planned'], ['child', 'unknown', 'not planned']]);
    assert.equal(view.summary.unknown, 2);
  });

  it('shows a cycle: its layers, the indexes of its edges, and missing layers as nodes', async () => {
    const dir = await project({ 'stacker.yaml': CYCLIC });
    const { spec } = await load(dir);
    const graph = buildTolerantGraph(spec);
    const layers = new Map<string, LayerStatus>([...graph.blocked].map(([n, why]) => [n, { state: 'unknown', key: null, manifest: null, reason: why }]));
    layers.set('f', { state: 'never_built', key: K('f'), manifest: null, reason: 'never built' });
    const view = makeGraphView({ spec, graph, layers, bases: new Map(), cwd: dir });
    assert.deepEqual(view.cycles.map((c) => [c.layers, c.edges.map((i) => `${view.edges[i]!.from}->${view.edges[i]!.to}`)]), [
      [['a', 'b'], ['layer:a->layer:b', 'layer:b->layer:a']],
      [['e'], ['layer:e->layer:e']],
    ]);
    assert.deepEqual(view.edges.filter((e) => e.inCycle).length, 3);
    assert.deepEqual(view.nodes.filter((n) => n.inCycle).map((n) => n.name), ['a', 'b', 'e']);
    const ghost = view.nodes.find((n) => n.id === 'missing:ghost')!;
    assert.deepEqual([ghost.kind, ghost.state], ['missing', 'missing']);
    assert.ok(view.edges.some((e) => e.from === 'missing:ghost' && e.to === 'layer:d' && e.type === 'built'));
    assert.equal(view.summary.cycles, 2);
    assert.equal(view.nodes.find((n) => n.id === 'layer:c')!.reason, 'depends on a, which cannot be planned');
  });
});
