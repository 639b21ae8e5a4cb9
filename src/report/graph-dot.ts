import { shortDigest } from '../core/index.js';
import type { GraphNode, GraphView } from '../graph/view.js';
import { CYCLE_COLOR, EDGE_STYLE, STATE_STYLE, nodeLines } from './graph-common.js';

const q = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/**
 * Graphviz dot. Files are clusters (when more than one is loaded) with a file node each, so the
 * `prerequisite` edges have ends; states are fill colors; cycle edges are red and bold.
 */
export function renderGraphDot(view: GraphView): string {
  const multiFile = view.files.length > 1;
  const out = [
    'digraph stacker {',
    '  rankdir=LR;',
    '  node [shape=box, style="rounded,filled", fontname="monospace", fontsize=11];',
    '  edge [fontname="monospace", fontsize=9];',
  ];
  const nodeLine = (n: GraphNode, indent: string): string => {
    const st = STATE_STYLE[n.state ?? 'unknown'];
    const attrs = n.kind === 'file'
      ? ['shape=folder', 'style=filled', 'fillcolor="#eceff1"']
      : [`fillcolor="${st.fill}"`, `color="${n.inCycle ? CYCLE_COLOR : st.stroke}"`, `fontcolor="${st.text}"`];
    if (n.state === 'stale') attrs.push('penwidth=2.5');
    if (n.state === 'never_built' || n.state === 'unknown' || n.state === 'missing') attrs.push('style="rounded,filled,dashed"');
    if (n.kind === 'base') attrs.push('shape=cds');
    return `${indent}${q(n.id)} [label=${q(nodeLines(n, shortDigest).join('\n'))}, ${attrs.join(', ')}];`;
  };
  if (multiFile) {
    view.files.forEach((f, i) => {
      out.push(`  subgraph cluster_${i} {`, `    label=${q(f.path)};`, '    style="rounded,dashed"; color="#90a4ae"; fontname="monospace";');
      for (const n of view.nodes) if (n.id === f.id || n.file === f.id) out.push(nodeLine(n, '    '));
      out.push('  }');
    });
    for (const n of view.nodes) if (n.kind !== 'file' && n.file === null) out.push(nodeLine(n, '  '));
  } else {
    for (const n of view.nodes) if (n.kind !== 'file') out.push(nodeLine(n, '  '));
  }
  for (const e of view.edges) {
    if (e.type === 'prerequisite' && !multiFile) continue;
    const st = EDGE_STYLE[e.type];
    const attrs = [`label=${q(e.type)}`, `color="${e.inCycle ? CYCLE_COLOR : st.color}"`, `fontcolor="${e.inCycle ? CYCLE_COLOR : st.color}"`];
    if (st.dash !== '') attrs.push('style=dashed');
    if (e.inCycle) attrs.push('penwidth=2.5');
    if (e.via !== null) attrs.push(`tooltip=${q(e.via)}`);
    out.push(`  ${q(e.from)} -> ${q(e.to)} [${attrs.join(', ')}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}
