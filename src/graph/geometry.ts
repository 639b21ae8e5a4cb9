/** What a layout produces: boxes, edge polylines and file clusters, in pixels. */
export interface Point { x: number; y: number }
export interface Size { width: number; height: number }

/** A node's box: center (x, y) and size. */
export interface LaidNode extends Point, Size { id: string }
/** A file's box around its layers (multi-file graphs only). */
export interface LaidCluster extends Point, Size { fileId: string }
export interface LaidEdge {
  /** Index in `view.edges`. */
  index: number;
  points: Point[];
  /** How to draw `points`: a smooth curve through them (default), or one cubic Bézier [start, c1, c2, end]. */
  curve?: 'through' | 'bezier';
  /** Where the label goes. */
  label: Point;
}
export interface Layout extends Size {
  nodes: Map<string, LaidNode>;
  edges: LaidEdge[];
  clusters: LaidCluster[];
}

/** The point halfway along a polyline. */
export function midpoint(points: Point[]): Point {
  if (points.length === 0) return { x: 0, y: 0 };
  const seg = points.slice(1).map((p, i) => Math.hypot(p.x - points[i]!.x, p.y - points[i]!.y));
  let half = seg.reduce((a, b) => a + b, 0) / 2;
  for (let i = 0; i < seg.length; i++) {
    const len = seg[i]!;
    if (half <= len && len > 0) {
      const a = points[i]!;
      const b = points[i + 1]!;
      return { x: a.x + ((b.x - a.x) * half) / len, y: a.y + ((b.y - a.y) * half) / len };
    }
    half -= len;
  }
  return points[points.length - 1]!;
}
