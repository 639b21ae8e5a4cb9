import type { GraphEdge, GraphNode, GraphView, NodeState } from '../graph/view.js';

export { isFromEdge } from '../graph/view.js';

/** `import from base (stacker://base/etc/os-release)`, for the tree. */
export function describeEdge(e: GraphEdge, nodes: Map<string, GraphNode>): string {
  const from = nodes.get(e.from)?.name ?? e.from;
  const via = e.via !== null ? ` (${e.via})` : '';
  switch (e.type) {
    case 'import':
      return `import from ${from}${via}`;
    case 'tar':
      return `tar from ${from}${via}`;
    case 'apply':
      return `apply ${from}`;
    case 'built':
      return `built from ${from}`;
    case 'base':
      return `base ${from}`;
    case 'prerequisite':
      return `requires ${from}`;
  }
}

/** `4 layers: 1 cached, 1 stale, 2 never built; 1 base; 1 cycle` */
export function summaryText(view: GraphView): string {
  const s = view.summary;
  const parts = [
    s.cached > 0 ? `${s.cached} cached` : '',
    s.stale > 0 ? `${s.stale} stale` : '',
    s.never_built > 0 ? `${s.never_built} never built` : '',
    s.unknown > 0 ? `${s.unknown} unknown` : '',
    s.build_only > 0 ? `${s.build_only} build_only` : '',
  ].filter((p) => p !== '');
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  return [
    `${plural(s.layers, 'layer')}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`,
    s.bases > 0 ? plural(s.bases, 'base') : '',
    s.cycles > 0 ? plural(s.cycles, 'cycle') : '',
  ].filter((p) => p !== '').join('; ');
}

/** Colors shared by the dot, mermaid and SVG renderers: fill, stroke, text. */
export const STATE_STYLE: Record<NodeState, { fill: string; stroke: string; text: string; label: string }> = {
  cached: { fill: '#e7f5e8', stroke: '#2e7d32', text: '#1b5e20', label: 'cached' },
  stale: { fill: '#fff1dc', stroke: '#e65100', text: '#bf360c', label: 'stale (would rebuild)' },
  never_built: { fill: '#e8f0fe', stroke: '#1a56c4', text: '#0d3c8c', label: 'never built' },
  unknown: { fill: '#f1f1f4', stroke: '#6b6b7b', text: '#44444f', label: 'unknown' },
  missing: { fill: '#fdecec', stroke: '#c62828', text: '#b71c1c', label: 'missing layer' },
  external: { fill: '#37474f', stroke: '#263238', text: '#ffffff', label: 'external base' },
};

export const EDGE_STYLE: Record<GraphEdge['type'], { color: string; dash: string; label: string }> = {
  built: { color: '#455a64', dash: '', label: 'built' },
  base: { color: '#37474f', dash: '', label: 'base' },
  import: { color: '#7b1fa2', dash: '6 4', label: 'import' },
  tar: { color: '#8d6e63', dash: '10 3 2 3', label: 'tar' },
  apply: { color: '#00838f', dash: '2 3', label: 'apply' },
  prerequisite: { color: '#9e9e9e', dash: '3 3', label: 'prerequisite' },
};

export const CYCLE_COLOR = '#d50000';

/** Lines of a node's label for the graphical formats: name, state, then key/manifest or reason. */
export function nodeLines(n: GraphNode, short: (d: string) => string): string[] {
  switch (n.kind) {
    case 'file':
      return [n.name];
    case 'base':
      return [n.name, n.state === 'external' ? `${n.baseType ?? 'base'} ${n.digest !== null ? short(n.digest) : ''}`.trim() : `${n.baseType ?? 'base'}: ${n.reason ?? 'unknown'}`];
    case 'missing':
      return [n.name, 'missing: defined nowhere'];
    case 'layer': {
      const tag = n.buildOnly ? ' · build_only' : '';
      switch (n.state) {
        case 'cached':
          return [n.name, `cached${tag}`, `key ${n.key !== null ? short(n.key) : '?'}${n.manifest !== null ? ` · manifest ${short(n.manifest)}` : ''}`];
        case 'stale':
          return [n.name, `stale${tag}`, n.reason ?? 'would rebuild'];
        case 'never_built':
          return [n.name, `never built${tag}`];
        default:
          return [n.name, `unknown${tag}`, n.reason ?? ''];
      }
    }
  }
}
