import { LineCounter } from 'yaml';
import type { SourceLocation } from '../core/index.js';

/**
 * A text with a name, turning offsets into the 1-based `SourceLocation`s that diagnostics carry
 * (line, column, span length clipped to the line, and the line's text for the squiggle).
 */
export class SourceText {
  /** The name shown in diagnostics: a path relative to the CWD when inside it, else absolute, or a URL. */
  readonly display: string;
  readonly text: string;
  private lines: LineCounter | undefined;

  constructor(display: string, text: string) {
    this.display = display;
    this.text = text;
  }

  /** Location of the span [start, end) (end defaults to start + 1). */
  location(start: number, end: number = start + 1): SourceLocation {
    const lines = this.lineCounter();
    const offset = Math.max(0, Math.min(start, this.text.length));
    const { line, col } = lines.linePos(offset);
    const lineStart = lines.lineStarts[line - 1] ?? 0;
    let lineEnd = this.text.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = this.text.length;
    const sourceLine = this.text.slice(lineStart, lineEnd).replace(/\r$/, '');
    const length = Math.max(1, Math.min(end - offset, sourceLine.length - (offset - lineStart)));
    return { file: this.display, line, col, length, sourceLine };
  }

  /** The text [start, end) as a SourceText of its own whose locations are those in this text (a part parsed alone). */
  part(start: number, end: number): SourceText {
    return new SourcePart(this, start, end);
  }

  private lineCounter(): LineCounter {
    if (this.lines === undefined) {
      this.lines = new LineCounter();
      this.lines.addNewLine(0);
      for (let i = this.text.indexOf('\n'); i !== -1; i = this.text.indexOf('\n', i + 1)) this.lines.addNewLine(i + 1);
    }
    return this.lines;
  }
}

class SourcePart extends SourceText {
  constructor(
    private readonly whole: SourceText,
    private readonly offset: number,
    end: number,
  ) {
    super(whole.display, whole.text.slice(offset, end));
  }

  override location(start: number, end: number = start + 1): SourceLocation {
    return this.whole.location(start + this.offset, end + this.offset);
  }
}
