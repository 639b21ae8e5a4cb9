import dagre from '@dagrejs/dagre';
import { midpoint, type LaidCluster, type LaidEdge, type LaidNode, type Layout, type Point, type Size } from './geometry.js';
import { tidyLayout } from './tidy-layout.js';
import type { GraphView } from './view.js';

export * from './geometry.js';

export interface LayoutOptions {
  /** Size of each node's box. */
  sizeOf(id: string): Size;
  /** Size of each edge's label (given to the layout on small graphs, so labels get room). */
  labelSize(index: number): Size;
  rankdir?: 'LR' | 'TB';
  /** Force an engine (tests, bench); by default it follows the node count (see below). */
  engine?: 'dagre' | 'tidy';
}

/** Up to this many nodes, dagre also runs its slower crossing-reduction heuristic. */
const FULL_ORDER_LIMIT = 150;
/**
 * Above this many nodes, the tidy forest layout replaces dagre. Measured in a fresh process
 * (bench/graph.ts): dagre costs ~140 ms of CPU at 150 nodes, ~340 ms at 300, but ~0.9 s at
 * 1,000 (its code is still cold in a one-shot CLI), which alone would spend the second that
 * `stacker graph` has for 1,000 nodes; the tidy layout takes a few milliseconds there.
 */
export const DAGRE_LIMIT = 300;

/**
 * Layered left-to-right layout of the view. Up to DAGRE_LIMIT nodes: dagre, with files as
 * clusters when more than one is loaded, labels given room, and ranks assigned top-down (each
 * node one rank after its deepest parent, sources pulled next to their first child: what a build
 * graph reads like, and much faster than dagre's network-simplex ranker). Above: `tidyLayout`.
 */
export function layoutGraph(view: GraphView, opts: LayoutOptions): Layout {
  const engine = opts.engine ?? (view.nodes.length > DAGRE_LIMIT ? 'tidy' : 'dagre');
  return engine === 'tidy' ? tidyLayout(view, opts.sizeOf) : dagreLayout(view, opts);
}

function dagreLayout(view: GraphView, opts: LayoutOptions): Layout {
  const multiFile = view.files.length > 1;
  const small = view.nodes.length <= FULL_ORDER_LIMIT;
  const g = new dagre.graphlib.Graph({ multigraph: true, compound: multiFile });
  g.setGraph({ rankdir: opts.rankdir ?? 'LR', nodesep: 18, ranksep: small ? 56 : 70, edgesep: 10, marginx: 0, marginy: 0, ranker: topDownRanker as never });
  for (const n of view.nodes) {
    if (n.kind === 'file' && !multiFile) continue;
    g.setNode(n.id, { ...opts.sizeOf(n.id) });
  }
  if (multiFile) {
    for (const f of view.files) {
      g.setNode(`cluster:${f.id}`, { paddingTop: 28, paddingX: 14, paddingBottom: 14 });
      g.setParent(f.id, `cluster:${f.id}`);
    }
    for (const n of view.nodes) if (n.file !== null) g.setParent(n.id, `cluster:${n.file}`);
  }
  view.edges.forEach((e, i) => {
    if (!g.hasNode(e.from) || !g.hasNode(e.to)) return;
    const label = small ? { ...opts.labelSize(i), labelpos: 'c' as const } : {};
    g.setEdge(e.from, e.to, { minlen: 1, weight: e.type === 'built' || e.type === 'base' ? 2 : 1, ...label }, String(i));
  });
  dagre.layout(g, small ? {} : { disableOptimalOrderHeuristic: true });

  const nodes = new Map<string, LaidNode>();
  for (const id of g.nodes()) {
    if (id.startsWith('cluster:')) continue;
    const n = g.node(id) as { x: number; y: number; width: number; height: number };
    nodes.set(id, { id, x: n.x, y: n.y, width: n.width, height: n.height });
  }
  const clusters: LaidCluster[] = multiFile
    ? view.files.map((f) => {
      const c = g.node(`cluster:${f.id}`) as { x: number; y: number; width: number; height: number };
      return { fileId: f.id, x: c.x, y: c.y, width: c.width, height: c.height };
    })
    : [];
  const edges: LaidEdge[] = [];
  for (const ge of g.edges()) {
    const e = g.edge(ge) as { points?: Point[]; x?: number; y?: number };
    const points = e.points ?? [];
    edges.push({ index: Number(ge.name), points, label: e.x !== undefined && e.y !== undefined ? { x: e.x, y: e.y } : midpoint(points) });
  }
  edges.sort((a, b) => a.index - b.index);
  const gl = g.graph() as { width?: number; height?: number };
  return { width: gl.width ?? 0, height: gl.height ?? 0, nodes, edges, clusters };
}

interface RankGraph {
  nodes(): string[];
  inEdges(v: string): { v: string; w: string }[] | undefined;
  outEdges(v: string): { v: string; w: string }[] | undefined;
  node(v: string): { rank?: number };
  edge(e: { v: string; w: string }): { minlen?: number };
}

/** Longest path from the sources; then each source moves down next to its nearest child. */
function topDownRanker(g: RankGraph): void {
  const rank = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (v: string): number => {
    const known = rank.get(v);
    if (known !== undefined) return known;
    visiting.add(v);
    let r = 0;
    for (const e of g.inEdges(v) ?? []) {
      if (visiting.has(e.v)) continue; // dagre has made the graph acyclic; this is only a guard
      r = Math.max(r, visit(e.v) + (g.edge(e).minlen ?? 1));
    }
    visiting.delete(v);
    rank.set(v, r);
    return r;
  };
  for (const v of g.nodes()) visit(v);
  for (const v of g.nodes()) {
    if ((g.inEdges(v) ?? []).length > 0) continue;
    const outs = g.outEdges(v) ?? [];
    if (outs.length === 0) continue;
    rank.set(v, Math.min(...outs.map((e) => rank.get(e.w)! - (g.edge(e).minlen ?? 1))));
  }
  for (const v of g.nodes()) g.node(v).rank = rank.get(v)!;
}
