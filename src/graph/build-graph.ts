import { Graph, alg } from '@dagrejs/graphlib';
import { StackerError, StackerErrors, type BuildSpec, type LayerSpec, type SourceLocation } from '../core/index.js';

/** Why one layer depends on another. */
export type EdgeKind = 'built' | 'import' | 'tar';

export interface DepEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  /** For `import`/`tar`: the stacker:// URL that creates the edge. */
  via?: string;
  location: SourceLocation;
}

/**
 * The layer DAG: nodes are layer names, an edge `a -> b` means b needs a built first.
 * `order` is a topological order that keeps file order wherever the edges allow it,
 * so prerequisite files' layers come first and independent layers keep their written order.
 */
export interface LayerGraph {
  graph: Graph;
  order: string[];
  edges: DepEdge[];
  parentsOf(name: string): DepEdge[];
  childrenOf(name: string): DepEdge[];
}

/** The dependency edges one layer declares (some may name missing layers or itself). */
export function dependencyEdges(layer: LayerSpec): DepEdge[] {
  const out: DepEdge[] = [];
  if (layer.from.type === 'built' && layer.from.tag !== undefined) {
    out.push({ from: layer.from.tag, to: layer.name, kind: 'built', location: layer.from.location });
  }
  if (layer.from.type === 'tar' && layer.from.url?.startsWith('stacker://')) {
    const host = layer.from.url.slice('stacker://'.length).split('/')[0] ?? '';
    out.push({ from: host, to: layer.name, kind: 'tar', via: layer.from.url, location: layer.from.location });
  }
  for (const imp of layer.imports) {
    if (imp.kind === 'stacker' && imp.stackerLayer !== undefined) {
      out.push({ from: imp.stackerLayer, to: layer.name, kind: 'import', via: imp.path, location: imp.location });
    }
  }
  return out;
}

/** Builds the DAG; reports every missing dependency and every cycle (with its edges) as errors. */
export function buildLayerGraph(spec: BuildSpec): LayerGraph {
  const graph = new Graph({ directed: true, multigraph: true });
  const edges: DepEdge[] = [];
  const errors: StackerError[] = [];
  for (const name of spec.layers.keys()) graph.setNode(name);

  for (const layer of spec.layers.values()) {
    const missing: string[] = [];
    let firstMissing: SourceLocation | undefined;
    for (const e of dependencyEdges(layer)) {
      if (!spec.layers.has(e.from)) {
        missing.push(e.kind === 'built' ? `base layer ${e.from}` : (e.via ?? e.from));
        firstMissing ??= e.location;
        continue;
      }
      if (e.from === layer.name) {
        errors.push(new StackerError('STACKER_E_CYCLE', `dependency cycle: ${layer.name} -> ${layer.name} (${e.kind})`, {
          location: e.location,
          hint: 'a layer cannot be built from or import from itself',
        }));
        continue;
      }
      edges.push(e);
      graph.setEdge(e.from, e.to, e.kind, `${e.kind}:${e.via ?? ''}`);
    }
    if (missing.length > 0) {
      errors.push(new StackerError('STACKER_E_MISSING_DEPENDENCY',
        `couldn't find dependencies for ${layer.name}: ${missing.join(', ')}`, {
          location: firstMissing,
          hint: 'the referenced layer must be defined in this file or in one of its config.prerequisites',
        }));
    }
  }
  if (errors.length === 0) {
    for (const cycle of alg.findCycles(graph)) errors.push(cycleError(cycle, edges));
  }
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) throw new StackerErrors(errors);

  const order = stableTopoOrder([...spec.layers.keys()], edges);
  return {
    graph,
    order,
    edges,
    parentsOf: (n) => edges.filter((e) => e.to === n),
    childrenOf: (n) => edges.filter((e) => e.from === n),
  };
}

/** The edges of a cycle's walk from its first member, until it is back there or stuck. */
export function walkCycle(members: string[], within: DepEdge[]): DepEdge[] {
  const path: DepEdge[] = [];
  let cur = members[0]!;
  for (let i = 0; i < within.length; i++) {
    const next = within.find((e) => e.from === cur && !path.includes(e));
    if (next === undefined) break;
    path.push(next);
    cur = next.to;
    if (cur === members[0]) break;
  }
  return path;
}

function cycleError(members: string[], edges: DepEdge[]): StackerError {
  const set = new Set(members);
  const inCycle = edges.filter((e) => set.has(e.from) && set.has(e.to));
  // Walk the cycle from its first member so the message reads as a path.
  const path = walkCycle(members, inCycle);
  const text = path.map((e) => `${e.from} -> ${e.to} (${e.kind}${e.via ? ` ${e.via}` : ''})`).join(', ');
  return new StackerError('STACKER_E_CYCLE', `dependency cycle: ${text}`, {
    location: path[0]?.location,
    hint: 'layers may only depend on layers that do not depend on them; break one of these edges',
  });
}

/** Kahn's algorithm, always taking the earliest-written ready layer. */
export function stableTopoOrder(names: string[], edges: DepEdge[]): string[] {
  const index = new Map(names.map((n, i) => [n, i]));
  const indegree = new Map(names.map((n) => [n, 0]));
  for (const e of edges) indegree.set(e.to, (indegree.get(e.to) ?? 0) + 1);
  const ready = names.filter((n) => indegree.get(n) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => index.get(a)! - index.get(b)!);
    const n = ready.shift()!;
    order.push(n);
    for (const e of edges) {
      if (e.from !== n) continue;
      const d = indegree.get(e.to)! - 1;
      indegree.set(e.to, d);
      if (d === 0) ready.push(e.to);
    }
  }
  return order;
}

/** The layer and all its ancestors, in build order. */
export function ancestorsAndSelf(g: LayerGraph, names: string[]): string[] {
  const want = new Set<string>();
  const visit = (n: string): void => {
    if (want.has(n)) return;
    want.add(n);
    for (const e of g.parentsOf(n)) visit(e.from);
  };
  names.forEach(visit);
  return g.order.filter((n) => want.has(n));
}
