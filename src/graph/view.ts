import { isAbsolute, relative } from 'node:path';
import type { BuildSpec, LayerSpec } from '../core/index.js';
import type { TolerantGraph } from './tolerant-graph.js';

/**
 * What `stacker graph` shows, and the shape of `stacker graph --format json` (version 1).
 * Additions are new optional keys; a change of meaning bumps `version`.
 *
 * Node ids: `layer:<name>`, `base:<type>:<url>` (an external image or tarball, shared by the
 * layers that use it), `file:<path>` (a loaded stacker file), `missing:<name>` (a layer that is
 * referenced but defined nowhere).
 */
export interface GraphView {
  version: 1;
  /** The file given with -f, relative to the current directory. */
  root: string;
  files: GraphFile[];
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Each dependency cycle: its layers and the indexes (in `edges`) of the edges that form it. */
  cycles: { layers: string[]; edges: number[] }[];
  summary: GraphSummary;
}

export interface GraphFile {
  id: string;
  /** Relative to the current directory (or the URL it was read from). */
  path: string;
  /** Ids of the files it requires (`config.prerequisites`). */
  prerequisites: string[];
  /** Its layers' node ids, in file order. */
  layers: string[];
}

/**
 * `cached`: the index holds a build of exactly these inputs. `stale`: built before, but an input
 * changed (see `reason`). `never_built`: no build of this layer name is recorded. `unknown`: the
 * planner could not tell (a base that could not be resolved, a cycle, a missing dependency:
 * see `reason`). `external`: a base image or tarball (its `digest` when resolved). `missing`: a
 * referenced layer that no file defines.
 */
export type NodeState = 'cached' | 'stale' | 'never_built' | 'unknown' | 'external' | 'missing';
export type NodeKind = 'layer' | 'base' | 'file' | 'missing';
/**
 * `built`: `from: built` parent. `apply`: an `apply:` source (reserved; the engine does not
 * support apply yet). `import`: a `stacker://` import. `tar`: `from: tar` (stacker:// or an
 * external tarball). `base`: `from: docker|oci` image. `prerequisite`: file -> file that requires it.
 */
export type EdgeType = 'built' | 'apply' | 'import' | 'tar' | 'base' | 'prerequisite';

export interface GraphNode {
  id: string;
  kind: NodeKind;
  /** Layer name, base URL, file path or missing layer name. */
  name: string;
  /** For layers: the id of the file that defines it. */
  file: string | null;
  /** For bases: docker | oci | tar. */
  baseType: 'docker' | 'oci' | 'tar' | null;
  /** null for files. */
  state: NodeState | null;
  buildOnly: boolean;
  /** Layers: the cache key of the current inputs (null when unknown). */
  key: string | null;
  /** Cached layers: the manifest digest of that build. */
  manifest: string | null;
  /** Bases: the resolved manifest (docker/oci) or content (tar) digest. */
  digest: string | null;
  /** stale: the planner's first reason; unknown: why. */
  reason: string | null;
  inCycle: boolean;
}

export interface GraphEdge {
  from: string;
  to: string;
  type: EdgeType;
  /** import/tar: the stacker:// URL. */
  via: string | null;
  inCycle: boolean;
}

export interface GraphSummary {
  layers: number;
  cached: number;
  stale: number;
  never_built: number;
  unknown: number;
  build_only: number;
  bases: number;
  cycles: number;
}

/** What the planner said about one layer. */
export interface LayerStatus {
  state: 'cached' | 'stale' | 'never_built' | 'unknown';
  key: string | null;
  manifest: string | null;
  reason: string | null;
}

/** What resolving one layer's external base gave: a digest or an error. */
export interface BaseStatus {
  digest: string | null;
  error: string | null;
}

export interface ViewInput {
  spec: BuildSpec;
  graph: TolerantGraph;
  /** Per layer; a layer absent here is `unknown`. */
  layers: Map<string, LayerStatus>;
  /** Per layer whose base is external. */
  bases: Map<string, BaseStatus>;
  cwd: string;
}

export const layerId = (name: string): string => `layer:${name}`;
export const fileId = (path: string): string => `file:${path}`;

/** Pure: the view of a loaded spec, its tolerant graph and the planner's verdicts. */
export function makeGraphView(inp: ViewInput): GraphView {
  const { spec, graph } = inp;
  const show = (p: string): string => displayPath(p, inp.cwd);
  const files: GraphFile[] = spec.files.map((f) => ({
    id: fileId(show(f.path)),
    path: show(f.path),
    prerequisites: f.prerequisites.map((p) => fileId(show(p))),
    layers: f.layerNames.map(layerId),
  }));
  const fileOf = new Map(spec.files.map((f) => [f.path, fileId(show(f.path))]));
  const nodes: GraphNode[] = files.map((f) => blank(f.id, 'file', f.path, null));
  const edges: GraphEdge[] = [];
  for (const f of files) for (const p of f.prerequisites) edges.push(edge(p, f.id, 'prerequisite', null));

  const baseNodes = new Map<string, GraphNode>();
  const cycleMembers = new Set(graph.cycles.flatMap((c) => c.layers));
  for (const name of graph.order) {
    const layer = spec.layers.get(name)!;
    const st = inp.layers.get(name);
    nodes.push({
      ...blank(layerId(name), 'layer', name, st?.state ?? 'unknown'),
      file: fileOf.get(layer.file) ?? null,
      buildOnly: layer.buildOnly,
      key: st?.key ?? null,
      manifest: st?.state === 'cached' ? st.manifest : null,
      reason: st === undefined ? (graph.blocked.get(name) ?? 'not planned') : st.reason,
      inCycle: cycleMembers.has(name),
    });
    const ext = externalBase(layer);
    if (ext !== undefined) {
      const id = `base:${ext.type}:${ext.url}`;
      let node = baseNodes.get(id);
      const b = inp.bases.get(name);
      if (node === undefined) {
        node = { ...blank(id, 'base', ext.url, 'unknown'), baseType: ext.type, reason: 'not resolved' };
        baseNodes.set(id, node);
        nodes.push(node);
      }
      if (b?.digest != null && node.digest === null) Object.assign(node, { state: 'external', digest: b.digest, reason: null });
      else if (b?.error != null && node.digest === null) node.reason = b.error;
      edges.push(edge(id, layerId(name), ext.type === 'tar' ? 'tar' : 'base', null));
    }
  }
  for (const name of graph.missing.keys()) {
    nodes.push({ ...blank(`missing:${name}`, 'missing', name, 'missing'), reason: `no loaded file defines layer ${name}` });
  }
  const edgeIndex = new Map<object, number>();
  const cycleEdges = new Set(graph.cycles.flatMap((c) => c.edges));
  for (const e of graph.edges) {
    const from = spec.layers.has(e.from) ? layerId(e.from) : `missing:${e.from}`;
    edgeIndex.set(e, edges.length);
    edges.push({ ...edge(from, layerId(e.to), e.kind, e.via ?? null), inCycle: cycleEdges.has(e) });
  }
  const cycles = graph.cycles.map((c) => ({ layers: c.layers, edges: c.edges.map((e) => edgeIndex.get(e)!) }));
  // Stable: file nodes, then layers in build order with their bases, then missing layers;
  // edges: prerequisites, base edges in build order, then dependency edges in file order.
  return { version: 1, root: files[files.length - 1]?.path ?? '', files, nodes, edges, cycles, summary: summarize(nodes, graph.cycles.length) };
}

function blank(id: string, kind: GraphNode['kind'], name: string, state: NodeState | null): GraphNode {
  return { id, kind, name, file: null, baseType: null, state, buildOnly: false, key: null, manifest: null, digest: null, reason: null, inCycle: false };
}

function edge(from: string, to: string, type: EdgeType, via: string | null): GraphEdge {
  return { from, to, type, via, inCycle: false };
}

/** A base that is not another layer: docker/oci images and non-stacker:// tarballs. */
export function externalBase(layer: LayerSpec): { type: 'docker' | 'oci' | 'tar'; url: string } | undefined {
  const url = layer.from.url ?? '';
  switch (layer.from.type) {
    case 'docker':
    case 'oci':
      return { type: layer.from.type, url };
    case 'tar':
      return url.startsWith('stacker://') ? undefined : { type: 'tar', url };
    default:
      return undefined;
  }
}

function summarize(nodes: GraphNode[], cycles: number): GraphSummary {
  const layers = nodes.filter((n) => n.kind === 'layer');
  const count = (s: NodeState): number => layers.filter((n) => n.state === s).length;
  return {
    layers: layers.length,
    cached: count('cached'),
    stale: count('stale'),
    never_built: count('never_built'),
    unknown: count('unknown'),
    build_only: layers.filter((n) => n.buildOnly).length,
    bases: nodes.filter((n) => n.kind === 'base').length,
    cycles,
  };
}

function displayPath(p: string, cwd: string): string {
  if (!isAbsolute(p)) return p;
  const r = relative(cwd, p);
  return r === '' ? '.' : r;
}

/** The edge a layer starts from (its one `from:`), as opposed to imports and prerequisites. */
export function isFromEdge(e: GraphEdge): boolean {
  return e.type === 'built' || e.type === 'tar' || e.type === 'base';
}

/** The nodes by id. */
export function nodeIndex(view: GraphView): Map<string, GraphNode> {
  return new Map(view.nodes.map((n) => [n.id, n]));
}

/** One line per state, for people: `cached`, `stale: run changed`, `never built`, ... */
export function stateText(n: GraphNode): string {
  switch (n.state) {
    case 'cached':
      return 'cached';
    case 'stale':
      return `stale: ${n.reason ?? 'would rebuild'}`;
    case 'never_built':
      return 'never built';
    case 'unknown':
      return `unknown: ${n.reason ?? '?'}`;
    case 'missing':
      return 'missing';
    case 'external':
    case null:
      return '';
  }
}
