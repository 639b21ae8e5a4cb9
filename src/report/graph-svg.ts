import { shortDigest } from '../core/index.js';
import { layoutGraph, type LaidEdge, type Layout, type Point, type Size } from '../graph/layout.js';
import { nodeIndex, type GraphEdge, type GraphNode, type GraphView, type NodeState } from '../graph/view.js';
import { CYCLE_COLOR, EDGE_STYLE, STATE_STYLE, nodeLines, summaryText } from './graph-common.js';

/** Monospace everywhere: widths are exact (0.6 em per character). */
const FONT = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace";
const CH = { small: 10.5 * 0.6 };
const MAX = { title: 40 };
const PAD_X = 14;
const MARGIN = 24;
const HEADER = 118;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fit = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);
/** Keeps the scheme and the end of long URLs and paths (the image name and tag). */
function fitStart(s: string, n: number): string {
  if (s.length <= n) return s;
  const scheme = /^[a-z]+:(\/\/)?/.exec(s)?.[0] ?? '';
  const keep = n - scheme.length - 1;
  return keep >= 12 ? `${scheme}…${s.slice(s.length - keep)}` : `…${s.slice(s.length - n + 1)}`;
}
const r1 = (n: number): string => (Math.round(n * 10) / 10).toString();

type Role = 'title' | 'state' | 'detail';
interface Line { text: string; role: Role }
interface Box { lines: Line[]; size: Size }
const LINE = { title: { size: 13, ch: 13 * 0.6, lead: 17 }, state: { size: 12, ch: 12 * 0.6, lead: 16 }, detail: { size: 11, ch: 11 * 0.6, lead: 14 } };
const DETAIL_CHARS = 34;

/** Words of `s` in lines of at most `n` characters, at most `max` lines (the last one cut with …). */
export function wrap(s: string, n: number, max: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const word of s.split(' ')) {
    const next = cur === '' ? word : `${cur} ${word}`;
    if (next.length <= n || cur === '') cur = next;
    else {
      out.push(cur);
      cur = word;
    }
  }
  if (cur !== '') out.push(cur);
  const lines = out.slice(0, max).map((l) => fit(l, n));
  if (out.length > max) lines[max - 1] = fit(`${lines[max - 1]!} …`, n).replace(/ …$/, '…');
  return lines;
}

/** The text of a node's box: name, state, then key and manifest, or the reason (wrapped). */
function boxLines(n: GraphNode): Line[] {
  const raw = nodeLines(n, shortDigest);
  const title: Line = { text: n.kind === 'base' || n.kind === 'file' ? fitStart(raw[0]!, MAX.title) : fit(raw[0]!, MAX.title), role: 'title' };
  if (n.kind === 'file') return [title];
  const details = (text: string): Line[] => wrap(text, DETAIL_CHARS, 2).map((t) => ({ text: t, role: 'detail' as const }));
  if (n.kind === 'base') {
    return n.state === 'external'
      ? [title, { text: raw[1]!, role: 'state' }]
      : [title, { text: `${n.baseType ?? 'base'}: unresolved`, role: 'state' }, ...details(n.reason ?? '')];
  }
  const state: Line = { text: raw[1]!, role: 'state' };
  if (n.state === 'cached') {
    return [title, state, { text: `key ${n.key !== null ? shortDigest(n.key) : '?'}`, role: 'detail' },
      ...(n.manifest !== null ? [{ text: `manifest ${shortDigest(n.manifest)}`, role: 'detail' as const }] : [])];
  }
  return [title, state, ...(raw[2] !== undefined && raw[2] !== '' ? details(raw[2]) : [])];
}

function boxOf(n: GraphNode): Box {
  const lines = boxLines(n);
  const height = n.kind === 'file' ? 34 : 16 + lines.reduce((a, l) => a + LINE[l.role].lead, 0);
  const inset = n.kind === 'layer' ? 4 : n.kind === 'base' ? height / 2 - PAD_X : 0;
  const w = Math.max(...lines.map((l) => l.text.length * LINE[l.role].ch)) + 2 * PAD_X + 2 * inset;
  const badge = n.state === 'stale' || n.inCycle ? 62 : 0;
  const titleRoom = lines[0]!.text.length * LINE.title.ch + 2 * PAD_X + badge;
  const width = Math.ceil(Math.max(n.kind === 'file' ? 120 : 132, w, n.kind === 'layer' ? titleRoom : 0));
  return { lines, size: { width, height } };
}

export interface SvgResult { svg: string; width: number; height: number }

/**
 * The graph as a standalone SVG: a layered layout (dagre), rounded boxes colored by state, a
 * STALE badge and a thick orange border on stale layers, dashed borders on layers never built,
 * external bases as dark pills, files as clusters (several files), edges colored and labelled by
 * type, cycle edges red, and a legend. Every node has a `<title>` with its full details.
 */
export function renderGraphSvg(view: GraphView, layout?: Layout): SvgResult {
  const boxes = new Map(view.nodes.map((n) => [n.id, boxOf(n)]));
  const lay = layout ?? layoutGraph(view, {
    sizeOf: (id) => boxes.get(id)!.size,
    labelSize: (i) => ({ width: view.edges[i]!.type.length * CH.small + 6, height: 12 }),
  });
  const nodes = nodeIndex(view);
  const legend = legendSvg(view);
  const width = Math.ceil(Math.max(lay.width + 2 * MARGIN, legend.width + 2 * MARGIN));
  const height = Math.ceil(lay.height + HEADER + 2 * MARGIN);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${esc(FONT)}">`,
    `<title>stacker graph: ${esc(view.root)}</title>`,
    defs(),
    `<rect width="100%" height="100%" fill="#fbfbfd"/>`,
    `<g id="header" transform="translate(${MARGIN} ${MARGIN})">`,
    `<text x="0" y="16" font-size="18" font-weight="bold" fill="#263238">stacker graph · ${esc(view.root)}</text>`,
    `<text x="0" y="38" font-size="12.5" fill="#455a64">${esc(summaryText(view))}</text>`,
    legend.svg,
    '</g>',
    `<g id="graph" transform="translate(${MARGIN} ${MARGIN + HEADER})">`,
  ];
  for (const c of lay.clusters) {
    const f = view.files.find((x) => x.id === c.fileId)!;
    const [x, y] = [c.x - c.width / 2, c.y - c.height / 2];
    out.push(`<g class="cluster"><rect x="${r1(x)}" y="${r1(y)}" width="${r1(c.width)}" height="${r1(c.height)}" rx="12" fill="#eef2f5" stroke="#b0bec5" stroke-dasharray="6 4"/>`,
      `<text x="${r1(x + 12)}" y="${r1(y + 18)}" font-size="12" font-weight="bold" fill="#607d8b">${esc(fitStart(f.path, Math.floor((c.width - 24) / 7.2)))}</text></g>`);
  }
  out.push('<g class="edges">');
  for (const le of lay.edges) out.push(edgeSvg(view.edges[le.index]!, le));
  out.push('</g><g class="nodes">');
  for (const n of view.nodes) {
    const ln = lay.nodes.get(n.id);
    if (ln !== undefined) out.push(nodeSvg(n, boxes.get(n.id)!, ln, nodes));
  }
  out.push('</g></g></svg>');
  return { svg: `${out.join('\n')}\n`, width, height };
}

function defs(): string {
  const markers = Object.entries(EDGE_STYLE).map(([t, s]) => marker(`arrow-${t}`, s.color));
  return `<defs>${markers.join('')}${marker('arrow-cycle', CYCLE_COLOR)}` +
    '<filter id="shadow" x="-10%" y="-20%" width="120%" height="150%"><feDropShadow dx="0" dy="1.5" stdDeviation="1.6" flood-color="#263238" flood-opacity="0.18"/></filter></defs>';
}

function marker(id: string, color: string): string {
  return `<marker id="${id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="${color}"/></marker>`;
}

/**
 * A smooth path through the layout's points (centripetal Catmull-Rom as cubic Béziers, as d3's
 * curveCatmullRom: it passes through every point, so labels sit on their edges, and does not
 * overshoot), or one Bézier [start, c1, c2, end].
 */
export function curvePath(points: Point[], curve: 'through' | 'bezier' = 'through'): string {
  const p = points;
  if (p.length === 0) return '';
  const pt = (q: Point): string => `${r1(q.x)},${r1(q.y)}`;
  if (curve === 'bezier' && p.length === 4) return `M${pt(p[0]!)}C${pt(p[1]!)} ${pt(p[2]!)} ${pt(p[3]!)}`;
  if (p.length < 3) return `M${pt(p[0]!)}${p.slice(1).map((q) => `L${pt(q)}`).join('')}`;
  const dist = (a: Point, b: Point): number => Math.hypot(a.x - b.x, a.y - b.y);
  let d = `M${pt(p[0]!)}`;
  for (let i = 0; i < p.length - 1; i++) {
    const [p0, p1, p2, p3] = [p[Math.max(0, i - 1)]!, p[i]!, p[i + 1]!, p[Math.min(p.length - 1, i + 2)]!];
    const [l01, l12, l23] = [dist(p0, p1), dist(p1, p2), dist(p2, p3)];
    const [a01, a12, a23] = [Math.sqrt(l01), Math.sqrt(l12), Math.sqrt(l23)];
    let c1 = p1;
    if (a01 > 1e-6) {
      const a = 2 * l01 + 3 * a01 * a12 + l12;
      const n = 3 * a01 * (a01 + a12);
      c1 = { x: (p1.x * a - p0.x * l12 + p2.x * l01) / n, y: (p1.y * a - p0.y * l12 + p2.y * l01) / n };
    }
    let c2 = p2;
    if (a23 > 1e-6) {
      const b = 2 * l23 + 3 * a23 * a12 + l12;
      const m = 3 * a23 * (a23 + a12);
      c2 = { x: (p2.x * b + p1.x * l23 - p3.x * l12) / m, y: (p2.y * b + p1.y * l23 - p3.y * l12) / m };
    }
    d += `C${pt(c1)} ${pt(c2)} ${pt(p2)}`;
  }
  return d;
}

function edgeSvg(e: GraphEdge, le: LaidEdge): string {
  const { label, index } = le;
  const st = EDGE_STYLE[e.type];
  const color = e.inCycle ? CYCLE_COLOR : st.color;
  const dash = st.dash !== '' ? ` stroke-dasharray="${st.dash}"` : '';
  const text = e.inCycle ? `${e.type} · cycle` : e.type;
  return `<g class="edge" data-from="${esc(e.from)}" data-to="${esc(e.to)}" data-index="${index}"><title>${esc(`${e.type}: ${e.from} -> ${e.to}${e.via !== null ? ` (${e.via})` : ''}`)}</title>` +
    `<path d="${curvePath(le.points, le.curve)}" fill="none" stroke="${color}" stroke-width="${e.inCycle ? 2.6 : 1.4}"${dash} marker-end="url(#arrow-${e.inCycle ? 'cycle' : e.type})"/>` +
    `<text x="${r1(label.x)}" y="${r1(label.y + 3.5)}" text-anchor="middle" font-size="10.5" fill="${color}" stroke="#fbfbfd" stroke-width="3" paint-order="stroke"${e.inCycle ? ' font-weight="bold"' : ''}>${esc(text)}</text></g>`;
}

function nodeSvg(n: GraphNode, box: Box, at: { x: number; y: number; width: number; height: number }, nodes: Map<string, GraphNode>): string {
  const st = STATE_STYLE[n.state ?? 'unknown'];
  const [x, y, w, h] = [at.x - at.width / 2, at.y - at.height / 2, at.width, at.height];
  const tip = tooltip(n, nodes);
  const open = `<g class="node ${n.kind} state-${n.state ?? 'file'}" data-id="${esc(n.id)}" data-name="${esc(n.name)}"><title>${esc(tip)}</title>`;
  if (n.kind === 'file') {
    return `${open}<path d="M${r1(x)},${r1(y + 6)} v${r1(h - 6)} h${r1(w)} v${r1(-(h - 6))} h${r1(-(w - 46))} l-6,-6 h-34 z" fill="#cfd8dc" stroke="#78909c"/>` +
      `<text x="${r1(x + 10)}" y="${r1(y + h / 2 + 8)}" font-size="12" fill="#37474f">${esc(box.lines[0]!.text)}</text></g>`;
  }
  const stroke = n.inCycle ? CYCLE_COLOR : st.stroke;
  const sw = n.state === 'stale' || n.inCycle ? 2.6 : 1.3;
  const dash = n.state === 'never_built' || n.state === 'unknown' || n.state === 'missing' ? ' stroke-dasharray="5 3"' : '';
  const rx = n.kind === 'base' ? h / 2 : 9;
  const parts = [open, `<rect x="${r1(x)}" y="${r1(y)}" width="${r1(w)}" height="${r1(h)}" rx="${r1(rx)}" fill="${st.fill}" stroke="${stroke}" stroke-width="${sw}"${dash} filter="url(#shadow)"/>`];
  let tx = x + PAD_X;
  if (n.kind === 'layer') {
    parts.push(`<rect x="${r1(x + 1)}" y="${r1(y + 1)}" width="7" height="${r1(h - 2)}" rx="4" fill="${stroke}"/>`);
    tx += 6;
  }
  if (n.kind === 'base') tx = x + h / 2 - 2;
  let ty = y + 8;
  for (const line of box.lines) {
    const f = LINE[line.role];
    ty += f.lead;
    const weight = line.role === 'title' ? ' font-weight="bold"' : '';
    const fill = n.kind === 'base' || line.role === 'title' ? st.text : line.role === 'state' ? st.stroke : n.state === 'stale' ? st.text : '#546e7a';
    parts.push(`<text x="${r1(tx)}" y="${r1(ty - 4)}" font-size="${f.size}"${weight} fill="${fill}">${esc(line.text)}</text>`);
  }
  if (n.state === 'stale') parts.push(badge(x + w - 8, y, 'STALE', STATE_STYLE.stale.stroke));
  else if (n.inCycle) parts.push(badge(x + w - 8, y, 'CYCLE', CYCLE_COLOR));
  if (n.state === 'stale' && n.inCycle) parts.push(badge(x + w - 64, y, 'CYCLE', CYCLE_COLOR));
  parts.push('</g>');
  return parts.join('');
}

/** A pill on the top border, right-aligned at `right`. */
function badge(right: number, top: number, text: string, color: string): string {
  const w = text.length * 6.6 + 12;
  return `<rect x="${r1(right - w)}" y="${r1(top - 8)}" width="${r1(w)}" height="16" rx="8" fill="${color}"/>` +
    `<text x="${r1(right - w / 2)}" y="${r1(top + 3.8)}" text-anchor="middle" font-size="11" font-weight="bold" fill="#ffffff">${text}</text>`;
}

function tooltip(n: GraphNode, nodes: Map<string, GraphNode>): string {
  const lines = [n.name];
  if (n.kind === 'layer') lines.push(`state: ${n.state === 'never_built' ? 'never built' : (n.state ?? '')}${n.buildOnly ? ' (build_only)' : ''}`);
  if (n.kind === 'base') lines.push(`${n.baseType ?? 'base'} base`);
  if (n.reason !== null && n.state !== 'cached') lines.push(`reason: ${n.reason}`);
  if (n.key !== null) lines.push(`key: ${n.key}`);
  if (n.manifest !== null) lines.push(`manifest: ${n.manifest}`);
  if (n.digest !== null) lines.push(`digest: ${n.digest}`);
  if (n.file !== null) lines.push(`file: ${nodes.get(n.file)?.name ?? n.file}`);
  return lines.join('\n');
}

function legendSvg(view: GraphView): { svg: string; width: number } {
  const out: string[] = [];
  const present = new Set(view.nodes.map((n) => n.state));
  const states = (['cached', 'stale', 'never_built', 'unknown', 'external', 'missing'] as NodeState[])
    .filter((s) => s === 'cached' || s === 'stale' || s === 'never_built' || present.has(s));
  let x = 0;
  const y = 58;
  for (const s of states) {
    const st = STATE_STYLE[s];
    const w = st.label.length * 7.2 + 36;
    const dash = s === 'never_built' || s === 'unknown' || s === 'missing' ? ' stroke-dasharray="4 2"' : '';
    out.push(`<rect x="${r1(x)}" y="${y}" width="${r1(w - 10)}" height="22" rx="${s === 'external' ? 11 : 6}" fill="${st.fill}" stroke="${st.stroke}" stroke-width="${s === 'stale' ? 2.4 : 1.2}"${dash}/>`,
      `<text x="${r1(x + 10)}" y="${y + 15}" font-size="12" fill="${st.text}">${esc(st.label)}</text>`);
    x += w;
  }
  const statesWidth = x;
  x = 0;
  const y2 = y + 40;
  const used = new Set(view.edges.map((e) => e.type));
  const types = (Object.keys(EDGE_STYLE) as GraphEdge['type'][]).filter((t) => used.has(t) && (t !== 'prerequisite' || view.files.length > 1));
  for (const t of types) {
    const st = EDGE_STYLE[t];
    const dash = st.dash !== '' ? ` stroke-dasharray="${st.dash}"` : '';
    out.push(`<path d="M${r1(x)},${y2} h34" stroke="${st.color}" stroke-width="1.6"${dash} marker-end="url(#arrow-${t})"/>`,
      `<text x="${r1(x + 42)}" y="${y2 + 4}" font-size="12" fill="${st.color}">${esc(st.label)}</text>`);
    x += 42 + st.label.length * 7.2 + 22;
  }
  if (view.summary.cycles > 0) {
    out.push(`<path d="M${r1(x)},${y2} h34" stroke="${CYCLE_COLOR}" stroke-width="2.6" marker-end="url(#arrow-cycle)"/>`,
      `<text x="${r1(x + 42)}" y="${y2 + 4}" font-size="12" font-weight="bold" fill="${CYCLE_COLOR}">cycle</text>`);
    x += 42 + 5 * 7.2 + 22;
  }
  return { svg: out.join('\n'), width: Math.max(statesWidth, x) };
}
