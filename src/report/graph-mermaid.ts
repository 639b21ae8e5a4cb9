import { shortDigest } from '../core/index.js';
import type { GraphNode, GraphView, NodeState } from '../graph/view.js';
import { CYCLE_COLOR, EDGE_STYLE, STATE_STYLE, nodeLines } from './graph-common.js';

const esc = (s: string): string => s.replace(/&/g, '#amp;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');

/**
 * A mermaid flowchart (left to right). Files are subgraphs when more than one is loaded, and
 * `prerequisite` edges join the subgraphs; node classes carry the state colors; cycle edges red.
 */
export function renderGraphMermaid(view: GraphView): string {
  const multiFile = view.files.length > 1;
  const ids = new Map<string, string>();
  view.nodes.forEach((n, i) => ids.set(n.id, n.kind === 'file' ? `f${view.files.findIndex((f) => f.id === n.id)}` : `n${i}`));
  const out = ['flowchart LR'];
  const shape = (n: GraphNode): string => {
    const label = `"${nodeLines(n, shortDigest).map(esc).join('<br/>')}"`;
    return n.kind === 'base' ? `[(${label})]` : n.kind === 'missing' ? `{{${label}}}` : `[${label}]`;
  };
  const nodeLine = (n: GraphNode, indent: string): string => `${indent}${ids.get(n.id)}${shape(n)}`;
  if (multiFile) {
    view.files.forEach((f, i) => {
      out.push(`  subgraph f${i}["${esc(f.path)}"]`);
      for (const n of view.nodes) if (n.file === f.id) out.push(nodeLine(n, '    '));
      out.push('  end');
    });
    for (const n of view.nodes) if (n.kind !== 'file' && n.file === null) out.push(nodeLine(n, '  '));
  } else {
    for (const n of view.nodes) if (n.kind !== 'file') out.push(nodeLine(n, '  '));
  }
  const linkStyles: string[] = [];
  let link = 0;
  for (const e of view.edges) {
    if (e.type === 'prerequisite' && !multiFile) continue;
    const arrow = e.type === 'import' || e.type === 'prerequisite' || e.type === 'apply' ? '-.->' : '-->';
    out.push(`  ${ids.get(e.from)} ${arrow}|${e.type}| ${ids.get(e.to)}`);
    const color = e.inCycle ? CYCLE_COLOR : EDGE_STYLE[e.type].color;
    linkStyles.push(`  linkStyle ${link} stroke:${color},color:${color}${e.inCycle ? ',stroke-width:3px' : ''}`);
    link++;
  }
  out.push(...linkStyles);
  const classes: NodeState[] = ['cached', 'stale', 'never_built', 'unknown', 'missing', 'external'];
  for (const c of classes) {
    const st = STATE_STYLE[c];
    const extra = c === 'stale' ? ',stroke-width:3px' : c === 'never_built' || c === 'unknown' || c === 'missing' ? ',stroke-dasharray:5 3' : '';
    out.push(`  classDef ${c} fill:${st.fill},stroke:${st.stroke},color:${st.text}${extra}`);
  }
  out.push(`  classDef cycle stroke:${CYCLE_COLOR},stroke-width:3px`);
  for (const c of classes) {
    const members = view.nodes.filter((n) => n.kind !== 'file' && n.state === c).map((n) => ids.get(n.id));
    if (members.length > 0) out.push(`  class ${members.join(',')} ${c}`);
  }
  const inCycle = view.nodes.filter((n) => n.inCycle).map((n) => ids.get(n.id));
  if (inCycle.length > 0) out.push(`  class ${inCycle.join(',')} cycle`);
  return `${out.join('\n')}\n`;
}
