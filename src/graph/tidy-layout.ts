import { isFromEdge, type GraphView } from './view.js';
import { midpoint, type LaidEdge, type LaidNode, type Layout, type Point, type Size } from './geometry.js';

const COL_GAP = 90;
const ROW_GAP = 14;

/**
 * A left-to-right tidy tree of the graph's backbone, for graphs too big for dagre in a second.
 * Every layer starts from at most one thing (a built parent, a tarball, a base image), so those
 * edges form a forest (files form one too, by their first prerequisite); each tree is drawn with
 * its root centered on its children, subtrees packed by their per-column contours, columns as
 * wide as their widest node. No tree edge crosses another. The other edges (imports, a second
 * prerequisite, the edge closing a cycle) are drawn over it as curves. Linear in nodes x depth.
 */
export function tidyLayout(view: GraphView, sizeOf: (id: string) => Size): Layout {
  const ids = view.nodes.filter((n) => n.kind !== 'file' || view.files.length > 1).map((n) => n.id);
  const known = new Set(ids);
  const parent = new Map<string, string>();
  const kids = new Map<string, string[]>(ids.map((id) => [id, []]));
  view.edges.forEach((e, i) => {
    if (!known.has(e.from) || !known.has(e.to) || parent.has(e.to) || e.from === e.to) return;
    if (!(isFromEdge(e) || (e.type === 'prerequisite' && !view.edges.some((f, j) => j < i && f.type === 'prerequisite' && f.to === e.to)))) return;
    // Refuse an edge that would close a cycle in the forest.
    for (let a: string | undefined = e.from; a !== undefined; a = parent.get(a)) if (a === e.to) return;
    parent.set(e.to, e.from);
    kids.get(e.from)!.push(e.to);
  });

  const depth = new Map<string, number>();
  const setDepth = (id: string, d: number): void => {
    depth.set(id, d);
    for (const k of kids.get(id)!) setDepth(k, d + 1);
  };
  const roots = ids.filter((id) => !parent.has(id));
  for (const r of roots) setDepth(r, 0);
  const columns: number[] = [];
  for (const id of ids) {
    const d = depth.get(id)!;
    columns[d] = Math.max(columns[d] ?? 0, sizeOf(id).width);
  }
  const colX: number[] = [];
  let x = 0;
  for (let d = 0; d < columns.length; d++) {
    colX[d] = x;
    x += (columns[d] ?? 0) + COL_GAP;
  }

  // y offsets relative to the subtree's root, and each subtree's contour per depth.
  const rel = new Map<string, number>();
  const place = (id: string): Contour => {
    const h = sizeOf(id).height;
    const d = depth.get(id)!;
    const children = kids.get(id)!;
    const contour: Contour = new Map();
    if (children.length === 0) {
      rel.set(id, 0);
      contour.set(d, { top: -h / 2, bottom: h / 2 });
      return contour;
    }
    const offsets: number[] = [];
    let acc: Contour | undefined;
    for (const c of children) {
      const sub = place(c);
      let shift = 0;
      if (acc !== undefined) {
        shift = stackShift(acc, sub);
      }
      offsets.push(shift);
      acc = merge(acc, sub, shift);
    }
    const first = offsets[0]! + rel.get(children[0]!)!;
    const last = offsets[offsets.length - 1]! + rel.get(children[children.length - 1]!)!;
    const center = (first + last) / 2;
    children.forEach((c, i) => rel.set(c, offsets[i]! - center));
    rel.set(id, 0);
    const out = merge(undefined, acc!, -center);
    out.set(d, { top: -h / 2, bottom: h / 2 });
    return out;
  };

  // Roots are stacked like siblings: each as high as the columns it occupies allow.
  const nodes = new Map<string, LaidNode>();
  let acc: Contour | undefined;
  const assign = (id: string, y: number): void => {
    const s = sizeOf(id);
    const d = depth.get(id)!;
    nodes.set(id, { id, x: colX[d]! + s.width / 2, y, width: s.width, height: s.height }); // left-aligned in its column
    for (const k of kids.get(id)!) assign(k, y + rel.get(k)!);
  };
  for (const r of roots) {
    const sub = place(r);
    const shift = acc === undefined ? -Math.min(...[...sub.values()].map((s) => s.top)) : stackShift(acc, sub) + ROW_GAP;
    assign(r, shift);
    acc = merge(acc, sub, shift);
  }
  const spans = [...(acc ?? new Map()).values()] as { top: number; bottom: number }[];
  const top = spans.length > 0 ? Math.max(...spans.map((s) => s.bottom)) : 0;

  const edges: LaidEdge[] = [];
  view.edges.forEach((e, index) => {
    const a = nodes.get(e.from);
    const b = nodes.get(e.to);
    if (a === undefined || b === undefined) return;
    edges.push({ index, ...route(a, b) });
  });
  const width = Math.max(0, x - COL_GAP);
  return { width, height: top, nodes, edges, clusters: [] };
}

type Contour = Map<number, { top: number; bottom: number }>;

/** How far down `sub` must move to clear `acc` in every column they share. */
function stackShift(acc: Contour, sub: Contour): number {
  let shift = -Infinity;
  for (const [d, span] of sub) {
    const prev = acc.get(d);
    if (prev !== undefined) shift = Math.max(shift, prev.bottom + ROW_GAP - span.top);
  }
  return shift === -Infinity ? Math.max(...[...acc.values()].map((s) => s.bottom)) + ROW_GAP - Math.min(...[...sub.values()].map((s) => s.top)) : shift;
}

function merge(acc: Contour | undefined, sub: Contour, shift: number): Contour {
  const out = new Map(acc ?? []);
  for (const [d, s] of sub) {
    const prev = out.get(d);
    out.set(d, { top: Math.min(prev?.top ?? Infinity, s.top + shift), bottom: Math.max(prev?.bottom ?? -Infinity, s.bottom + shift) });
  }
  return out;
}

/** Right side of `a` to the left side of `b`: one cubic Bézier; backwards edges loop around. */
function route(a: LaidNode, b: LaidNode): Pick<LaidEdge, 'points' | 'curve' | 'label'> {
  const start = { x: a.x + a.width / 2, y: a.y };
  const end = { x: b.x - b.width / 2, y: b.y };
  if (end.x > start.x) {
    const dx = Math.max(30, (end.x - start.x) / 2);
    const points = [start, { x: start.x + dx, y: start.y }, { x: end.x - dx, y: end.y }, end];
    return { points, curve: 'bezier', label: { x: (start.x + end.x) / 2, y: (start.y + end.y) / 2 } };
  }
  // Same or earlier column: leave from the bottom (or top) and come in from the left.
  const down = b.y > a.y;
  const s = { x: a.x, y: a.y + (down ? a.height / 2 : -a.height / 2) };
  const loopX = end.x - 40;
  const points = [s, { x: s.x, y: s.y + (down ? 24 : -24) }, { x: loopX, y: (s.y + end.y) / 2 }, { x: loopX, y: end.y }, end];
  return { points, label: midpoint(points) };
}
