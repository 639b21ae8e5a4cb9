import { Graph, alg } from '@dagrejs/graphlib';
import type { BuildSpec } from '../core/index.js';
import { dependencyEdges, walkCycle, type DepEdge } from './build-graph.js';

/** A strongly connected set of layers and the dependency edges between them (a self-loop is one). */
export interface GraphCycle {
  /** Members in file order. */
  layers: string[];
  /** The edges that form the cycle, as a path when one exists (`a -> b`, `b -> a`). */
  edges: DepEdge[];
}

/**
 * The layer graph as written, even when it is not a DAG: what `stacker graph` shows.
 * `buildLayerGraph` refuses cycles and missing layers; this keeps them, so they can be drawn.
 */
export interface TolerantGraph {
  /** Every layer: a topological order of the acyclic part, file order kept where edges allow. */
  order: string[];
  /** Every declared dependency edge, self-loops and edges from missing layers included. */
  edges: DepEdge[];
  /** Layer names referenced but defined in no loaded file, with the edges that name them. */
  missing: Map<string, DepEdge[]>;
  cycles: GraphCycle[];
  /** Layers that cannot be planned, and why: in a cycle, a missing dependency, or downstream of one. */
  blocked: Map<string, string>;
}

export function buildTolerantGraph(spec: BuildSpec): TolerantGraph {
  const names = [...spec.layers.keys()];
  const edges: DepEdge[] = [];
  const missing = new Map<string, DepEdge[]>();
  for (const layer of spec.layers.values()) {
    for (const e of dependencyEdges(layer)) {
      edges.push(e);
      if (!spec.layers.has(e.from)) missing.set(e.from, [...(missing.get(e.from) ?? []), e]);
    }
  }
  const inner = edges.filter((e) => spec.layers.has(e.from));
  const cycles = findCycles(names, inner);
  const cycleEdges = new Set(cycles.flatMap((c) => c.edges));

  const blocked = new Map<string, string>();
  for (const c of cycles) {
    const text = cyclePathNames(c);
    for (const l of c.layers) blocked.set(l, `in a dependency cycle: ${text}`);
  }
  for (const [name, es] of missing) {
    for (const e of es) if (!blocked.has(e.to)) blocked.set(e.to, `missing dependency ${e.kind === 'built' ? `layer ${name}` : (e.via ?? name)}`);
  }
  // Downstream of a blocked layer: blocked too, naming the nearest blocked parent.
  const acyclic = inner.filter((e) => !cycleEdges.has(e));
  const order = stableOrder(names, acyclic);
  const parentsOf = new Map<string, DepEdge[]>();
  for (const e of acyclic) parentsOf.set(e.to, [...(parentsOf.get(e.to) ?? []), e]);
  for (const name of order) {
    if (blocked.has(name)) continue;
    const parent = parentsOf.get(name)?.find((e) => blocked.has(e.from));
    if (parent !== undefined) blocked.set(name, `depends on ${parent.from}, which cannot be planned`);
  }
  return { order, edges, missing, cycles, blocked };
}

/**
 * The order of `stableTopoOrder` (Kahn's algorithm, always taking the earliest-written ready
 * layer) in O(E log V) instead of O(V E): a binary heap of ready layers by file position.
 */
export function stableOrder(names: string[], edges: DepEdge[]): string[] {
  const index = new Map(names.map((n, i) => [n, i]));
  const indegree = names.map(() => 0);
  const out: number[][] = names.map(() => []);
  for (const e of edges) {
    const [f, t] = [index.get(e.from), index.get(e.to)];
    if (f === undefined || t === undefined) continue;
    indegree[t]!++;
    out[f]!.push(t);
  }
  const heap: number[] = [];
  const push = (v: number): void => {
    heap.push(v);
    for (let i = heap.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (heap[p]! <= heap[i]!) break;
      [heap[p], heap[i]] = [heap[i]!, heap[p]!];
      i = p;
    }
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ;) {
        const [l, r] = [2 * i + 1, 2 * i + 2];
        let m = i;
        if (l < heap.length && heap[l]! < heap[m]!) m = l;
        if (r < heap.length && heap[r]! < heap[m]!) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i]!, heap[m]!];
        i = m;
      }
    }
    return top;
  };
  indegree.forEach((d, i) => d === 0 && push(i));
  const order: string[] = [];
  while (heap.length > 0) {
    const v = pop();
    order.push(names[v]!);
    for (const t of out[v]!) if (--indegree[t]! === 0) push(t);
  }
  return order;
}

/** Strongly connected components with more than one layer, and self-loops. */
function findCycles(names: string[], edges: DepEdge[]): GraphCycle[] {
  const g = new Graph({ directed: true });
  for (const n of names) g.setNode(n);
  for (const e of edges) g.setEdge(e.from, e.to);
  const fileIndex = new Map(names.map((n, i) => [n, i]));
  const byFileOrder = (a: string, b: string): number => fileIndex.get(a)! - fileIndex.get(b)!;
  const out: GraphCycle[] = [];
  const selfLoops = new Set(edges.filter((e) => e.from === e.to).map((e) => e.from));
  for (const comp of alg.tarjan(g)) {
    if (comp.length === 1 && !selfLoops.has(comp[0]!)) continue;
    const members = [...comp].sort(byFileOrder);
    const set = new Set(members);
    const within = edges.filter((e) => set.has(e.from) && set.has(e.to));
    if (members.length === 1 && !within.some((e) => e.from === e.to)) continue;
    out.push({ layers: members, edges: cyclePath(members, within) });
  }
  return out.sort((a, b) => byFileOrder(a.layers[0]!, b.layers[0]!));
}

/** The component's edges, ordered as a walk from its first member where possible, the rest after. */
function cyclePath(members: string[], within: DepEdge[]): DepEdge[] {
  const path = walkCycle(members, within);
  return [...path, ...within.filter((e) => !path.includes(e))];
}

/** `a -> b -> a` */
export function cyclePathNames(c: GraphCycle): string {
  return describeCycle(c).replace(/ \([^)]*\)/g, '');
}

/** `a -> b (built) -> a (import stacker://a/x)` */
export function describeCycle(c: GraphCycle): string {
  const first = c.edges[0];
  if (first === undefined) return c.layers.join(', ');
  const parts = [first.from];
  let cur = first.from;
  for (const e of c.edges) {
    if (e.from !== cur) break;
    parts.push(`-> ${e.to} (${e.kind}${e.via !== undefined ? ` ${e.via}` : ''})`);
    cur = e.to;
  }
  return parts.join(' ');
}
