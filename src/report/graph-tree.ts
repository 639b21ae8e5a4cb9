import { shortDigest } from '../core/index.js';
import { describeEdge, isFromEdge, summaryText } from './graph-common.js';
import { nodeIndex, type GraphEdge, type GraphNode, type GraphView } from '../graph/view.js';

export interface TreeOptions {
  /** ANSI colors (only on a TTY). */
  color: boolean;
}

const SGR = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', blue: '\x1b[34m', magenta: '\x1b[35m', cyan: '\x1b[36m' };
type Paint = (style: keyof typeof SGR, s: string) => string;

/**
 * The graph as a tree on the terminal: every layer once, under the base it starts from (a
 * built parent, a stacker:// tarball, an external image); other edges (imports) as lines under
 * the layer; cycles listed after the tree.
 *
 *   docker://reg/busybox:latest      docker       1a2b3c4d5e6f
 *   └─ base                          cached       key 1a2b3c4d5e6f  manifest 9f8e7d6c5b4a
 *      ├─ app                        stale        run changed
 *      │    ⇠ import from base (stacker://base/etc/os-release)
 *      └─ tools                      never built  build_only
 */
export function renderGraphTree(view: GraphView, opts: TreeOptions): string {
  const paint: Paint = opts.color ? (style, s) => (s === '' ? s : `${SGR[style]}${s}${SGR.reset}`) : (_style, s) => s;
  const nodes = nodeIndex(view);
  const multiFile = view.files.length > 1;
  const fromEdge = new Map<string, GraphEdge>();
  const children = new Map<string, string[]>();
  for (const e of view.edges) {
    if (!isFromEdge(e) || fromEdge.has(e.to)) continue;
    fromEdge.set(e.to, e);
    children.set(e.from, [...(children.get(e.from) ?? []), e.to]);
  }
  const others = (id: string): GraphEdge[] => view.edges.filter((e) => e.to === id && e.type !== 'prerequisite' && fromEdge.get(id) !== e);

  interface Row { lead: string; name: string; cont: string; node: GraphNode; note?: string }
  const rows: Row[] = [];
  const printed = new Set<string>();
  const walk = (id: string, lead: string, cont: string): void => {
    const node = nodes.get(id)!;
    if (printed.has(id)) {
      rows.push({ lead, name: node.name, cont, node, note: 'shown above (cycle)' });
      return;
    }
    printed.add(id);
    rows.push({ lead, name: node.name, cont, node });
    const kids = children.get(id) ?? [];
    kids.forEach((k, i) => {
      const last = i === kids.length - 1;
      walk(k, `${cont}${last ? '└─ ' : '├─ '}`, `${cont}${last ? '   ' : '│  '}`);
    });
  };
  const roots = view.nodes.filter((n) => n.kind !== 'file' && !fromEdge.has(n.id));
  for (const r of roots) walk(r.id, '', '');
  // Layers only reachable through a cycle of `from` edges: start at their first member.
  for (const n of view.nodes) if (n.kind === 'layer' && !printed.has(n.id)) walk(n.id, '', '');

  const width = Math.min(44, Math.max(...rows.map((r) => [...r.lead].length + r.name.length + (r.node.inCycle ? 2 : 0)), 8)) + 2;
  const out: string[] = [paint('bold', `${view.root}: ${summaryText(view)}`)];
  if (multiFile) {
    out.push('', 'files:');
    for (const f of view.files) {
      const req = f.prerequisites.map((p) => nodes.get(p)?.name ?? p);
      out.push(`  ${f.path}${req.length > 0 ? paint('dim', `  requires ${req.join(', ')}`) : ''}`);
    }
  }
  out.push('');
  for (const r of rows) {
    const mark = r.node.inCycle ? `${paint('red', '↻')} ` : '';
    const title = r.node.kind === 'layer' ? paint('bold', r.name) : r.name;
    if (r.note !== undefined) {
      out.push(`${paint('dim', r.lead)}${mark}${title}${paint('dim', `  ${r.note}`)}`);
      continue;
    }
    const pad = ' '.repeat(Math.max(1, width - [...r.lead].length - r.name.length - (r.node.inCycle ? 2 : 0)));
    const [state, detail] = columns(r.node, paint);
    const file = multiFile && r.node.file !== null ? paint('dim', `  (${nodes.get(r.node.file)?.name ?? r.node.file})`) : '';
    out.push(`${paint('dim', r.lead)}${mark}${title}${pad}${state}${detail !== '' ? `  ${detail}` : ''}${file}`.trimEnd());
    const bar = (children.get(r.node.id) ?? []).length > 0 ? '│' : ' ';
    for (const e of others(r.node.id)) {
      const text = `⇠ ${describeEdge(e, nodes)}`;
      out.push(`${paint('dim', `${r.cont}${bar}`)}    ${paint(e.inCycle ? 'red' : 'dim', text)}`);
    }
  }
  if (view.cycles.length > 0) {
    out.push('');
    for (const c of view.cycles) {
      const path = c.edges.map((i) => view.edges[i]!);
      out.push(paint('red', `cycle: ${c.layers.join(', ')}`));
      for (const e of path) out.push(paint('red', `  ${nodes.get(e.from)?.name ?? e.from} -> ${nodes.get(e.to)?.name ?? e.to} (${e.type}${e.via !== null ? ` ${e.via}` : ''})`));
    }
  }
  return `${out.join('\n')}\n`;
}

/** [state column (padded), details] */
function columns(n: GraphNode, paint: Paint): [string, string] {
  const col = (style: Parameters<Paint>[0], s: string): string => paint(style, s.padEnd(11));
  const tag = n.buildOnly ? `${paint('blue', 'build_only')}` : '';
  const join = (...xs: string[]): string => xs.filter((x) => x !== '').join('  ');
  switch (n.state) {
    case 'cached':
      return [col('green', 'cached'), join(paint('dim', `key ${n.key !== null ? shortDigest(n.key) : '?'}${n.manifest !== null ? `  manifest ${shortDigest(n.manifest)}` : ''}`), tag)];
    case 'stale':
      return [col('yellow', 'stale'), join(paint('yellow', n.reason ?? 'would rebuild'), tag)];
    case 'never_built':
      return [col('cyan', 'never built'), tag];
    case 'unknown':
      return [col('magenta', 'unknown'), join(n.reason ?? '', tag)];
    case 'missing':
      return [col('red', 'missing'), n.reason ?? ''];
    case 'external':
      return [col('dim', n.baseType ?? 'base'), paint('dim', n.digest !== null ? shortDigest(n.digest) : '')];
    case null:
      return ['', ''];
  }
}
