/**
 * A unified line diff (Myers' O(ND) algorithm) for `why-rebuilt`'s run-text explanations.
 * Written here rather than taken from npm: a run text is a few lines to a few thousand, the
 * algorithm is ~60 lines, and the output format (hunks only, no file headers) is ours.
 */

type Op = { type: ' ' | '-' | '+'; line: string; a: number; b: number };

/** The edit script from `a` to `b`: every line of both, kept (' '), removed ('-') or added ('+'). */
export function diffLines(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  let v: Int32Array = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // Walk the trace back from (n, m): each step d undoes one insertion or deletion and a snake.
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    v = trace[d]!;
    const k = x - y;
    const prevK = d === 0 ? 0 : k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : v[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      ops.push({ type: ' ', line: a[x]!, a: x, b: y });
    }
    if (d > 0) {
      if (x === prevX) ops.push({ type: '+', line: b[prevY]!, a: x, b: prevY });
      else ops.push({ type: '-', line: a[prevX]!, a: prevX, b: y });
    }
    x = prevX;
    y = prevY;
  }
  return ops.reverse();
}

/**
 * `before` → `after` as unified-diff hunks (`@@ -l,s +l,s @@` headers, then ` `/`-`/`+` lines),
 * with `context` unchanged lines around each change, as `diff -U<context>` prints them (a last
 * line without newline is followed by `\ No newline at end of file`). Empty when equal.
 */
export function unifiedDiff(before: string, after: string, context = 3): string[] {
  if (before === after) return [];
  const ops = diffLines(splitLines(before), splitLines(after));
  const changed = ops.map((o, i) => (o.type !== ' ' ? i : -1)).filter((i) => i >= 0);
  const out: string[] = [];
  let i = 0;
  while (i < changed.length) {
    // A hunk spans changes whose gaps are at most 2 × context unchanged lines.
    let j = i;
    while (j + 1 < changed.length && changed[j + 1]! - changed[j]! <= 2 * context + 1) j++;
    const start = Math.max(0, changed[i]! - context);
    const end = Math.min(ops.length - 1, changed[j]! + context);
    const hunk = ops.slice(start, end + 1);
    const aCount = hunk.filter((o) => o.type !== '+').length;
    const bCount = hunk.filter((o) => o.type !== '-').length;
    const first = ops[start]!;
    // As diff(1): a range of 0 lines starts at the line before it.
    const aStart = aCount === 0 ? first.a : first.a + 1;
    const bStart = bCount === 0 ? first.b : first.b + 1;
    out.push(`@@ -${range(aStart, aCount)} +${range(bStart, bCount)} @@`);
    for (const o of hunk) {
      // Lines keep their terminator while compared, so a missing final newline is a change.
      if (o.line.endsWith('\n')) out.push(`${o.type}${o.line.slice(0, -1)}`);
      else out.push(`${o.type}${o.line}`, '\\ No newline at end of file');
    }
    i = j + 1;
  }
  return out;
}

function range(start: number, count: number): string {
  return count === 1 ? String(start) : `${start},${count}`;
}

/** Lines with their `\n` (the last one may have none). */
function splitLines(s: string): string[] {
  return s.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}
