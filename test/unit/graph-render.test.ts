import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildTolerantGraph } from '../../src/graph/tolerant-graph.js';
import { DAGRE_LIMIT, layoutGraph, type Layout } from '../../src/graph/layout.js';
import { makeGraphView, type GraphView, type LayerStatus } from '../../src/graph/view.js';
import { renderGraphDot } from '../../src/report/graph-dot.js';
import { renderGraphHtml } from '../../src/report/graph-html.js';
import { renderGraphJson } from '../../src/report/graph-json.js';
import { renderGraphMermaid } from '../../src/report/graph-mermaid.js';
import { curvePath, renderGraphSvg } from '../../src/report/graph-svg.js';
import { renderGraphTree } from '../../src/report/graph-tree.js';
import { load, project } from '../fixtures/config/helpers.js';
import { fixtureView } from './graph-fixture.js';

/** The class definitions every mermaid rendering carries (one per node state, plus cycles). */
const MERMAID_CLASSES = [
  '  classDef cached fill:#e7f5e8,stroke:#2e7d32,color:#1b5e20',
  '  classDef stale fill:#fff1dc,stroke:#e65100,color:#bf360c,stroke-width:3px',
  '  classDef never_built fill:#e8f0fe,stroke:#1a56c4,color:#0d3c8c,stroke-dasharray:5 3',
  '  classDef unknown fill:#f1f1f4,stroke:#6b6b7b,color:#44444f,stroke-dasharray:5 3',
  '  classDef missing fill:#fdecec,stroke:#c62828,color:#b71c1c,stroke-dasharray:5 3',
  '  classDef external fill:#37474f,stroke:#263238,color:#ffffff',
  '  classDef cycle stroke:#d50000,stroke-width:3px',
];

const lines = (s: string): string[] => s.trimEnd().split('\n');

async function cyclicView(): Promise<GraphView> {
  const dir = await project({ 'stacker.yaml': 'a:\n  from: {type: built, tag: b}\nb:\n  from: {type: tar, url: stacker://a/out.tar}\nc:\n  from: {type: built, tag: a}\n  imports: [stacker://b/x]\n' });
  const { spec } = await load(dir);
  const graph = buildTolerantGraph(spec);
  const layers = new Map<string, LayerStatus>([...graph.blocked].map(([n, why]) => [n, { state: 'unknown', key: null, manifest: null, reason: why }]));
  return makeGraphView({ spec, graph, layers, bases: new Map(), cwd: dir });
}

const TREE = [
  'stacker.yaml: 5 layers: 2 cached, 2 stale, 1 never built, 1 build_only; 1 base',
  '',
  'files:',
  '  base/stacker.yaml',
  '  stacker.yaml  requires base/stacker.yaml',
  '',
  'docker://reg.example/busybox:1  docker       aaaaaaaaaaaa',
  '├─ base                         cached       key 111111111111  manifest 222222222222  (base/stacker.yaml)',
  '│  └─ app                       stale        run changed  (stacker.yaml)',
  '│     │    ⇠ import from tools (stacker://tools/bin/tool)',
  '│     └─ data                   stale        parent app was rebuilt  (stacker.yaml)',
  '└─ tools                        cached       key 333333333333  build_only  (stacker.yaml)',
  'fresh                           never built  (stacker.yaml)',
];

const DOT = [
  'digraph stacker {',
  '  rankdir=LR;',
  '  node [shape=box, style="rounded,filled", fontname="monospace", fontsize=11];',
  '  edge [fontname="monospace", fontsize=9];',
  '  subgraph cluster_0 {',
  '    label="base/stacker.yaml";',
  '    style="rounded,dashed"; color="#90a4ae"; fontname="monospace";',
  '    "file:base/stacker.yaml" [label="base/stacker.yaml", shape=folder, style=filled, fillcolor="#eceff1"];',
  '    "layer:base" [label="base\\ncached\\nkey 111111111111 · manifest 222222222222", fillcolor="#e7f5e8", color="#2e7d32", fontcolor="#1b5e20"];',
  '  }',
  '  subgraph cluster_1 {',
  '    label="stacker.yaml";',
  '    style="rounded,dashed"; color="#90a4ae"; fontname="monospace";',
  '    "file:stacker.yaml" [label="stacker.yaml", shape=folder, style=filled, fillcolor="#eceff1"];',
  '    "layer:tools" [label="tools\\ncached · build_only\\nkey 333333333333", fillcolor="#e7f5e8", color="#2e7d32", fontcolor="#1b5e20"];',
  '    "layer:app" [label="app\\nstale\\nrun changed", fillcolor="#fff1dc", color="#e65100", fontcolor="#bf360c", penwidth=2.5];',
  '    "layer:data" [label="data\\nstale\\nparent app was rebuilt", fillcolor="#fff1dc", color="#e65100", fontcolor="#bf360c", penwidth=2.5];',
  '    "layer:fresh" [label="fresh\\nnever built", fillcolor="#e8f0fe", color="#1a56c4", fontcolor="#0d3c8c", style="rounded,filled,dashed"];',
  '  }',
  '  "base:docker:docker://reg.example/busybox:1" [label="docker://reg.example/busybox:1\\ndocker aaaaaaaaaaaa", fillcolor="#37474f", color="#263238", fontcolor="#ffffff", shape=cds];',
  '  "file:base/stacker.yaml" -> "file:stacker.yaml" [label="prerequisite", color="#9e9e9e", fontcolor="#9e9e9e", style=dashed];',
  '  "base:docker:docker://reg.example/busybox:1" -> "layer:base" [label="base", color="#37474f", fontcolor="#37474f"];',
  '  "base:docker:docker://reg.example/busybox:1" -> "layer:tools" [label="base", color="#37474f", fontcolor="#37474f"];',
  '  "layer:base" -> "layer:app" [label="built", color="#455a64", fontcolor="#455a64"];',
  '  "layer:tools" -> "layer:app" [label="import", color="#7b1fa2", fontcolor="#7b1fa2", style=dashed, tooltip="stacker://tools/bin/tool"];',
  '  "layer:app" -> "layer:data" [label="tar", color="#8d6e63", fontcolor="#8d6e63", style=dashed, tooltip="stacker://app/out.tar"];',
  '}',
];

const MERMAID = [
  'flowchart LR',
  '  subgraph f0["base/stacker.yaml"]',
  '    n2["base<br/>cached<br/>key 111111111111 · manifest 222222222222"]',
  '  end',
  '  subgraph f1["stacker.yaml"]',
  '    n4["tools<br/>cached · build_only<br/>key 333333333333"]',
  '    n5["app<br/>stale<br/>run changed"]',
  '    n6["data<br/>stale<br/>parent app was rebuilt"]',
  '    n7["fresh<br/>never built"]',
  '  end',
  '  n3[("docker://reg.example/busybox:1<br/>docker aaaaaaaaaaaa")]',
  '  f0 -.->|prerequisite| f1',
  '  n3 -->|base| n2',
  '  n3 -->|base| n4',
  '  n2 -->|built| n5',
  '  n4 -.->|import| n5',
  '  n5 -->|tar| n6',
  '  linkStyle 0 stroke:#9e9e9e,color:#9e9e9e',
  '  linkStyle 1 stroke:#37474f,color:#37474f',
  '  linkStyle 2 stroke:#37474f,color:#37474f',
  '  linkStyle 3 stroke:#455a64,color:#455a64',
  '  linkStyle 4 stroke:#7b1fa2,color:#7b1fa2',
  '  linkStyle 5 stroke:#8d6e63,color:#8d6e63',
  ...MERMAID_CLASSES,
  '  class n2,n4 cached',
  '  class n5,n6 stale',
  '  class n7 never_built',
  '  class n3 external',
];

const CYCLE_TREE = [
  'stacker.yaml: 3 layers: 3 unknown; 1 cycle',
  '',
  '↻ a        unknown      in a dependency cycle: a -> b -> a',
  '├─ ↻ b     unknown      in a dependency cycle: a -> b -> a',
  '│  └─ ↻ a  shown above (cycle)',
  '└─ c       unknown      depends on a, which cannot be planned',
  '        ⇠ import from b (stacker://b/x)',
  '',
  'cycle: a, b',
  '  a -> b (tar stacker://a/out.tar)',
  '  b -> a (built)',
];

const CYCLE_DOT = [
  'digraph stacker {',
  '  rankdir=LR;',
  '  node [shape=box, style="rounded,filled", fontname="monospace", fontsize=11];',
  '  edge [fontname="monospace", fontsize=9];',
  '  "layer:a" [label="a\\nunknown\\nin a dependency cycle: a -> b -> a", fillcolor="#f1f1f4", color="#d50000", fontcolor="#44444f", style="rounded,filled,dashed"];',
  '  "layer:b" [label="b\\nunknown\\nin a dependency cycle: a -> b -> a", fillcolor="#f1f1f4", color="#d50000", fontcolor="#44444f", style="rounded,filled,dashed"];',
  '  "layer:c" [label="c\\nunknown\\ndepends on a, which cannot be planned", fillcolor="#f1f1f4", color="#6b6b7b", fontcolor="#44444f", style="rounded,filled,dashed"];',
  '  "layer:b" -> "layer:a" [label="built", color="#d50000", fontcolor="#d50000", penwidth=2.5];',
  '  "layer:a" -> "layer:b" [label="tar", color="#d50000", fontcolor="#d50000", style=dashed, penwidth=2.5, tooltip="stacker://a/out.tar"];',
  '  "layer:a" -> "layer:c" [label="built", color="#455a64", fontcolor="#455a64"];',
  '  "layer:b" -> "layer:c" [label="import", color="#7b1fa2", fontcolor="#7b1fa2", style=dashed, tooltip="stacker://b/x"];',
  '}',
];

const CYCLE_MERMAID = [
  'flowchart LR',
  '  n1["a<br/>unknown<br/>in a dependency cycle: a -#gt; b -#gt; a"]',
  '  n2["b<br/>unknown<br/>in a dependency cycle: a -#gt; b -#gt; a"]',
  '  n3["c<br/>unknown<br/>depends on a, which cannot be planned"]',
  '  n2 -->|built| n1',
  '  n1 -->|tar| n2',
  '  n1 -->|built| n3',
  '  n2 -.->|import| n3',
  '  linkStyle 0 stroke:#d50000,color:#d50000,stroke-width:3px',
  '  linkStyle 1 stroke:#d50000,color:#d50000,stroke-width:3px',
  '  linkStyle 2 stroke:#455a64,color:#455a64',
  '  linkStyle 3 stroke:#7b1fa2,color:#7b1fa2',
  ...MERMAID_CLASSES,
  '  class n1,n2,n3 unknown',
  '  class n1,n2 cycle',
];

describe('graph: text renderers', () => {
  it('tree: every layer once under what it starts from, imports under the importer, states and reasons', async () => {
    const { view } = await fixtureView();
    assert.deepEqual(lines(renderGraphTree(view, { color: false })), TREE);
  });

  it('tree: colors only when asked (a TTY), same text underneath', async () => {
    const { view } = await fixtureView();
    const colored = renderGraphTree(view, { color: true });
    assert.match(colored, /\x1b\[33mstale/);
    assert.match(colored, /\x1b\[32mcached/);
    assert.doesNotMatch(renderGraphTree(view, { color: false }), /\x1b/);
    assert.deepEqual(lines(colored.replace(/\x1b\[\d+m/g, '')), TREE);
  });

  it('dot and mermaid: clusters per file, state colors, typed edges', async () => {
    const { view } = await fixtureView();
    assert.deepEqual(lines(renderGraphDot(view)), DOT);
    assert.deepEqual(lines(renderGraphMermaid(view)), MERMAID);
  });

  it('a cycle is shown as a cycle with the edges that form it, in every text format', async () => {
    const view = await cyclicView();
    assert.deepEqual(lines(renderGraphTree(view, { color: false })), CYCLE_TREE);
    assert.deepEqual(lines(renderGraphDot(view)), CYCLE_DOT);
    assert.deepEqual(lines(renderGraphMermaid(view)), CYCLE_MERMAID);
  });

  it('json: the view as documented, stable key order', async () => {
    const { view } = await fixtureView();
    const json = renderGraphJson(view);
    assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(view)));
    const parsed = JSON.parse(json) as GraphView;
    assert.deepEqual(Object.keys(parsed), ['version', 'root', 'files', 'nodes', 'edges', 'cycles', 'summary']);
    assert.deepEqual(Object.keys(parsed.nodes[0]!), ['id', 'kind', 'name', 'file', 'baseType', 'state', 'buildOnly', 'key', 'manifest', 'digest', 'reason', 'inCycle']);
    assert.deepEqual(Object.keys(parsed.edges[0]!), ['from', 'to', 'type', 'via', 'inCycle']);
    assert.deepEqual(JSON.parse(renderGraphJson(await cyclicView())).cycles, [{ layers: ['a', 'b'], edges: [1, 0] }]);
  });
});

function overlaps(layout: Layout): string[] {
  const boxes = [...layout.nodes.values()];
  const out: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i]!, boxes[j]!];
      if (Math.abs(a.x - b.x) * 2 < a.width + b.width - 0.5 && Math.abs(a.y - b.y) * 2 < a.height + b.height - 0.5) out.push(`${a.id} / ${b.id}`);
    }
  }
  return out;
}

/** A synthetic single-file view of n layers (chains and fan-out over 3 bases, some imports). */
async function bigView(n: number): Promise<GraphView> {
  const yaml: string[] = [];
  for (let i = 0; i < n; i++) {
    yaml.push(`l${i}:`);
    if (i < 3) yaml.push(`  from: {type: docker, url: "docker://reg.example/b${i}:1"}`);
    else yaml.push(`  from: {type: built, tag: l${Math.floor((i - 1) / 2)}}`);
    if (i > 10 && i % 7 === 0) yaml.push(`  imports: [stacker://l${i - 9}/x]`);
  }
  const dir = await project({ 'stacker.yaml': `${yaml.join('\n')}\n` });
  const { spec } = await load(dir);
  return makeGraphView({ spec, graph: buildTolerantGraph(spec), layers: new Map(), bases: new Map(), cwd: dir });
}

describe('graph: layout and SVG', () => {
  const size = { sizeOf: () => ({ width: 200, height: 52 }), labelSize: () => ({ width: 30, height: 12 }) };

  it('lays out without overlapping boxes, with dagre (clusters per file) and with the tidy forest', async () => {
    const { view } = await fixtureView();
    const d = layoutGraph(view, size);
    assert.equal(d.nodes.size, view.nodes.length);
    assert.deepEqual(overlaps(d), []);
    assert.equal(d.clusters.length, 2);
    for (const c of d.clusters) {
      const f = view.files.find((x) => x.id === c.fileId)!;
      for (const id of f.layers) {
        const n = d.nodes.get(id)!;
        assert.ok(Math.abs(n.x - c.x) * 2 <= c.width && Math.abs(n.y - c.y) * 2 <= c.height, `${id} inside its file's box`);
      }
    }
    assert.equal(d.edges.length, view.edges.length);
    assert.ok(d.edges.every((e) => e.points.length >= 2));
    const t = layoutGraph(view, { ...size, engine: 'tidy' });
    assert.deepEqual(overlaps(t), []);
    assert.equal(t.edges.length, view.edges.length);
    // Left to right: a layer is right of what it is built from.
    for (const l of [d, t]) assert.ok(l.nodes.get('layer:app')!.x > l.nodes.get('layer:base')!.x);
  });

  it('switches to the tidy forest above the dagre limit; it keeps tree edges crossing-free', async () => {
    const view = await bigView(DAGRE_LIMIT + 50);
    const lay = layoutGraph(view, size);
    assert.equal(lay.clusters.length, 0);
    assert.equal(lay.nodes.size, view.nodes.length - 1); // one file: no file node drawn
    assert.deepEqual(overlaps(lay), []);
    // Children of one parent are stacked in order and their parent is centered on them.
    const kids = ['layer:l7', 'layer:l8'].map((id) => lay.nodes.get(id)!);
    const parent = lay.nodes.get('layer:l3')!;
    assert.ok(kids[0]!.y < kids[1]!.y);
    assert.equal(parent.y, (kids[0]!.y + kids[1]!.y) / 2);
    assert.ok(kids.every((k) => k.x > parent.x));
  });

  it('SVG: a node per layer/base/file, STALE badges, dashed never-built borders, legend, escaped text', async () => {
    const { view } = await fixtureView();
    const { svg, width, height } = renderGraphSvg(view);
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="\d+" height="\d+"/);
    assert.ok(width > 400 && height > 200);
    assert.equal((svg.match(/<g class="node /g) ?? []).length, view.nodes.length);
    assert.equal((svg.match(/<g class="edge"/g) ?? []).length, view.edges.length);
    assert.equal((svg.match(/>STALE</g) ?? []).length, 2);
    assert.match(svg, /<g class="node layer state-never_built" data-id="layer:fresh"[^]*?stroke-dasharray="5 3"/);
    assert.match(svg, />cached<\/text>/);
    assert.match(svg, />stale \(would rebuild\)<\/text>/);
    assert.match(svg, />never built<\/text>/);
    assert.equal((svg.match(/<g[ >]/g) ?? []).length, (svg.match(/<\/g>/g) ?? []).length);
    const weird = await project({ 'stacker.yaml': 'app:\n  from: {type: docker, url: "docker://reg.example/a&b<c>:1"}\n' });
    const { spec } = await load(weird);
    const v = makeGraphView({ spec, graph: buildTolerantGraph(spec), layers: new Map(), bases: new Map(), cwd: weird });
    const s2 = renderGraphSvg(v).svg;
    assert.match(s2, /a&amp;b&lt;c&gt;:1/);
    assert.doesNotMatch(s2, /a&b/);
  });

  it('SVG: cycle edges are red with a CYCLE badge on their layers', async () => {
    const { svg } = renderGraphSvg(await cyclicView());
    assert.equal((svg.match(/>CYCLE</g) ?? []).length, 2);
    assert.equal((svg.match(/marker-end="url\(#arrow-cycle\)"/g) ?? []).length, 2 + 1); // 2 edges + the legend
    assert.match(svg, />built · cycle</);
  });

  it('HTML: the SVG inline, sized to the window, with the pan/zoom/search script and no external asset', async () => {
    const { view } = await fixtureView();
    const html = renderGraphHtml(view);
    assert.match(html, /<svg id="svg" data-w="\d+" data-h="\d+" xmlns="http:\/\/www.w3.org\/2000\/svg" width="100%" height="100%"/);
    assert.match(html, /<input id="q" type="search"/);
    assert.match(html, /addEventListener\('wheel'/);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
  });

  it('curvePath passes through the points it is given', () => {
    assert.equal(curvePath([{ x: 0, y: 0 }, { x: 10, y: 0 }]), 'M0,0L10,0');
    assert.equal(curvePath([{ x: 0, y: 0 }, { x: 5, y: 5 }, { x: 10, y: 0 }, { x: 20, y: 0 }], 'bezier'), 'M0,0C5,5 10,0 20,0');
    const d = curvePath([{ x: 0, y: 0 }, { x: 50, y: 20 }, { x: 100, y: 0 }]);
    assert.match(d, /^M0,0C[\d.,\s-]+ 50,20C[\d.,\s-]+ 100,0$/);
  });
});
