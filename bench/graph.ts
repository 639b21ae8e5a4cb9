/**
 * `stacker graph` at scale (issue 3: "graph lays out 1,000 nodes in under a second"): a synthetic
 * stacker.yaml of N layers (default 1,000) over 10 docker bases, depth at most 8, 15 % of layers
 * with a stacker:// import and 3 % with a stacker:// tar base, planner states drawn at random
 * (70 % cached, 15 % stale, 10 % never built, 5 % build_only). Measures, in one process, the
 * first (cold) run and the median of R more (default 5) of: load + graph + view, the layout, SVG
 * rendering, the whole HTML page, the tree and JSON formats; then the whole CLI
 * (`stacker graph --format svg`, planning included) on the same graph with scratch bases.
 * Usage: node dist/bench/graph.js [--layers N] [--runs R] [--out DIR] [--dagre]
 *   --out keeps graph.svg/html/json; --dagre times the layout-alone row with dagre at any size.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBuildSpec } from '../src/config/index.js';
import { DAGRE_LIMIT, layoutGraph } from '../src/graph/layout.js';
import { buildTolerantGraph } from '../src/graph/tolerant-graph.js';
import { makeGraphView, type BaseStatus, type GraphView, type LayerStatus } from '../src/graph/view.js';
import { renderGraphHtml } from '../src/report/graph-html.js';
import { renderGraphJson } from '../src/report/graph-json.js';
import { renderGraphSvg } from '../src/report/graph-svg.js';
import { renderGraphTree } from '../src/report/graph-tree.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => (args.includes(name) ? args[args.indexOf(name) + 1]! : def);
const N = Number(opt('--layers', '1000'));
const RUNS = Number(opt('--runs', '5'));
const OUT = args.includes('--out') ? opt('--out', '.') : undefined;
/** Times the layout-alone row with dagre whatever the size (the reference for DAGRE_LIMIT). */
const DAGRE = args.includes('--dagre');

let seed = 42;
const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const pick = (n: number): number => Math.floor(rnd() * n);
const hex = (): string => `sha256:${Array.from({ length: 64 }, () => '0123456789abcdef'[pick(16)]).join('')}`;

/** The synthetic file and the states to paint it with. */
function synthetic(scratchBases = false): { yaml: string; states: Map<string, LayerStatus>; bases: Map<string, BaseStatus> } {
  seed = 42;
  const lines: string[] = [];
  const depth: number[] = [];
  const states = new Map<string, LayerStatus>();
  const bases = new Map<string, BaseStatus>();
  const baseDigests = Array.from({ length: 10 }, hex);
  for (let i = 0; i < N; i++) {
    const name = `layer-${String(i).padStart(4, '0')}`;
    lines.push(`${name}:`);
    if (i < 20 || rnd() < 0.04) {
      const b = pick(10);
      lines.push(scratchBases ? '  from: {type: scratch}' : `  from: {type: docker, url: "docker://registry.example:5000/base-${b}:latest"}`);
      bases.set(name, { digest: baseDigests[b]!, error: null });
      depth.push(1);
    } else {
      let p: number;
      do p = i - 1 - pick(Math.min(i, 60)); while (depth[p]! >= 8);
      if (rnd() < 0.03) lines.push(`  from: {type: tar, url: "stacker://layer-${String(p).padStart(4, '0')}/out.tar"}`);
      else lines.push(`  from: {type: built, tag: layer-${String(p).padStart(4, '0')}}`);
      depth.push(depth[p]! + 1);
      if (rnd() < 0.15) {
        const q = pick(i);
        if (q !== p) lines.push(`  imports: ["stacker://layer-${String(q).padStart(4, '0')}/usr/lib/lib${q}.so"]`);
      }
    }
    lines.push(`  run: make -C /src/${name} install`);
    const r = rnd();
    if (r < 0.05) lines.push('  build_only: true');
    const state = r < 0.75 ? 'cached' : r < 0.9 ? 'stale' : 'never_built';
    states.set(name, {
      state, key: hex(), manifest: state === 'cached' ? hex() : null,
      reason: state === 'stale' ? (rnd() < 0.5 ? 'run changed' : `import install.sh changed (1a2b3c4d5e6f -> 9f8e7d6c5b4a)`) : state === 'never_built' ? 'never built' : null,
    });
  }
  return { yaml: `${lines.join('\n')}\n`, states, bases };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

async function main(): Promise<void> {
  const { yaml, states, bases } = synthetic();
  const dir = mkdtempSync(join(tmpdir(), 'stacker-bench-graph-'));
  writeFileSync(join(dir, 'stacker.yaml'), yaml);
  const t = { view: [] as number[], layout: [] as number[], svg: [] as number[], html: [] as number[], tree: [] as number[], json: [] as number[] };
  let view: GraphView | undefined;
  let last = { svg: '', html: '', width: 0, height: 0 };
  let cold = { view: 0, svg: 0, html: 0 };
  let coldLayout = 0;
  try {
    for (let run = 0; run <= RUNS; run++) {
      let t0 = process.hrtime.bigint();
      const { spec } = await loadBuildSpec({ file: 'stacker.yaml', cwd: dir, substitutions: [], builtins: {} });
      view = makeGraphView({ spec, graph: buildTolerantGraph(spec), layers: states, bases, cwd: dir });
      const tView = ms(t0);
      t0 = process.hrtime.bigint();
      const svg = renderGraphSvg(view); // layout + drawing
      const tSvgTotal = ms(t0);
      t0 = process.hrtime.bigint();
      const html = renderGraphHtml(view);
      const tHtml = ms(t0);
      // The layout alone, with the same node sizes as the SVG's (measured apart for the table).
      t0 = process.hrtime.bigint();
      layoutGraph(view, { sizeOf: () => ({ width: 260, height: 70 }), labelSize: () => ({ width: 40, height: 12 }), ...(DAGRE ? { engine: 'dagre' as const } : {}) });
      if (run === 0) coldLayout = ms(t0);
      const tLayout = ms(t0);
      t0 = process.hrtime.bigint();
      renderGraphTree(view, { color: false });
      const tTree = ms(t0);
      t0 = process.hrtime.bigint();
      renderGraphJson(view);
      const tJson = ms(t0);
      if (run === 0) {
        cold = { view: tView, svg: tSvgTotal, html: tHtml };
        continue; // the first run is the cold one: what a one-shot CLI pays
      }
      t.view.push(tView); t.layout.push(tLayout); t.svg.push(tSvgTotal); t.html.push(tHtml); t.tree.push(tTree); t.json.push(tJson);
      last = { svg: svg.svg, html, width: svg.width, height: svg.height };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (OUT !== undefined) {
    writeFileSync(join(OUT, 'graph.svg'), last.svg);
    writeFileSync(join(OUT, 'graph.html'), last.html);
    writeFileSync(join(OUT, 'graph.json'), renderGraphJson(view!));
  }
  const s = view!.summary;
  const cli = wholeCli();
  const f = (xs: number[]): string => `${median(xs).toFixed(0)} ms (${xs.map((x) => x.toFixed(0)).join(', ')})`;
  process.stdout.write([
    `graph of ${s.layers} layers + ${s.bases} bases, ${view!.edges.length} edges; Node ${process.version}, load ${loadavg()[0]!.toFixed(1)}; warm: median of ${RUNS} runs after the cold one`,
    '',
    '| what | cold (first run in the process) | warm |',
    '| --- | --- | --- |',
    `| load the file + tolerant graph + view | ${cold.view.toFixed(0)} ms | ${f(t.view)} |`,
    `| layout alone (${DAGRE || view!.nodes.length <= DAGRE_LIMIT ? 'dagre' : 'tidy forest'}) | ${coldLayout.toFixed(0)} ms | ${f(t.layout)} |`,
    `| **SVG: layout + drawing** (${last.width}×${last.height} px, ${(last.svg.length / 1e6).toFixed(1)} MB) | **${cold.svg.toFixed(0)} ms** | ${f(t.svg)} |`,
    `| HTML page (SVG + pan/zoom/search) | ${cold.html.toFixed(0)} ms | ${f(t.html)} |`,
    `| tree | | ${f(t.tree)} |`,
    `| json | | ${f(t.json)} |`,
    `| whole CLI: \`stacker graph --format svg\` (scratch bases, nothing built: plans ${N} layers with a throwaway index) | ${f(cli)} | |`,
    '',
  ].join('\n'));
}

/** Wall time of the real CLI on the same graph with scratch bases (no registry): median of 3. */
function wholeCli(): number[] {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'stacker.js');
  const dir = mkdtempSync(join(tmpdir(), 'stacker-bench-graph-cli-'));
  try {
    writeFileSync(join(dir, 'stacker.yaml'), synthetic(true).yaml);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(bin, ['graph', '--format', 'svg', '-o', 'graph.svg'], { cwd: dir, encoding: 'utf8' });
      times.push(ms(t0));
      if (r.status !== 0) throw new Error(`stacker graph failed: ${r.stderr}`);
    }
    return times;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
