import assert from 'node:assert/strict';

/**
 * A tiny terminal: what the reporter's escapes do to a screen. It knows exactly what the
 * reporter may emit (text, `\n`, `\r`, CSI n A, CSI J, SGR) and fails on anything else, and it
 * wraps lines at its width as a terminal does. Rows are unbounded (scrollback included).
 */
export class Screen {
  lines: string[] = [''];
  row = 0;
  col = 0;
  constructor(readonly columns: number) {}

  write(s: string): void {
    for (let i = 0; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\x1b') {
        const m = /^\x1b\[(\d*)([A-Za-z])/.exec(s.slice(i));
        assert.ok(m, `unknown escape ${JSON.stringify(s.slice(i, i + 8))}`);
        i += m[0].length - 1;
        const n = m[1] === '' ? 1 : Number(m[1]);
        if (m[2] === 'A') this.row = Math.max(0, this.row - n);
        else if (m[2] === 'J') {
          assert.ok(m[1] === '' || m[1] === '0', 'only erase-below');
          this.lines[this.row] = this.lines[this.row]!.slice(0, this.col);
          this.lines.length = this.row + 1;
        } else assert.equal(m[2], 'm', `unexpected CSI ${m[0]}`);
      } else if (c === '\n') {
        this.row++;
        this.col = 0;
        if (this.lines.length <= this.row) this.lines.push('');
      } else if (c === '\r') this.col = 0;
      else {
        if (this.col >= this.columns) this.write('\n');
        const line = this.lines[this.row]!.padEnd(this.col);
        this.lines[this.row] = line.slice(0, this.col) + c + line.slice(this.col + 1);
        this.col++;
      }
    }
  }

  /** What is on screen, without the empty line the cursor sits on at the end. */
  text(): string[] {
    const l = [...this.lines];
    if (l[l.length - 1] === '' && this.row === l.length - 1) l.pop();
    return l;
  }
}
