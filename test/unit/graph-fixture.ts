/** A small two-file project and the planner verdicts the graph tests render. */
import { buildTolerantGraph } from '../../src/graph/tolerant-graph.js';
import { makeGraphView, type BaseStatus, type GraphView, type LayerStatus } from '../../src/graph/view.js';
import { load, project } from '../fixtures/config/helpers.js';

export const K = (c: string): string => `sha256:${c.repeat(64)}`;

export const FILES = {
  'base/stacker.yaml': 'base:\n  from: {type: docker, url: "docker://reg.example/busybox:1"}\n  run: echo base\n',
  'stacker.yaml': [
    'config:',
    '  prerequisites: [base/stacker.yaml]',
    'app:',
    '  from: {type: built, tag: base}',
    '  imports: [stacker://tools/bin/tool]',
    '  run: echo app',
    'tools:',
    '  from: {type: docker, url: "docker://reg.example/busybox:1"}',
    '  build_only: true',
    'data:',
    '  from: {type: tar, url: stacker://app/out.tar}',
    'fresh:',
    '  from: {type: scratch}',
    '',
  ].join('\n'),
};

export const STATES = new Map<string, LayerStatus>([
  ['base', { state: 'cached', key: K('1'), manifest: K('2'), reason: null }],
  ['tools', { state: 'cached', key: K('3'), manifest: null, reason: null }],
  ['app', { state: 'stale', key: K('4'), manifest: null, reason: 'run changed' }],
  ['data', { state: 'stale', key: K('5'), manifest: null, reason: 'parent app was rebuilt' }],
  ['fresh', { state: 'never_built', key: K('6'), manifest: null, reason: 'never built' }],
]);

export const BASES = new Map<string, BaseStatus>([
  ['base', { digest: K('a'), error: null }],
  ['tools', { digest: K('a'), error: null }],
]);

/** Loads `files` (default FILES) from a temp dir and makes the view with the given verdicts. */
export async function fixtureView(files: Record<string, string> = FILES, states = STATES, bases = BASES): Promise<{ view: GraphView; dir: string }> {
  const dir = await project(files);
  const { spec } = await load(dir);
  return { view: makeGraphView({ spec, graph: buildTolerantGraph(spec), layers: states, bases, cwd: dir }), dir };
}
