/** Which of a step's output streams a line came from. */
export type OutputStream = 'stdout' | 'stderr';

/** A line longer than this is passed on in pieces rather than held until its newline comes. */
const MAX_PARTIAL = 64 * 1024;

/**
 * Cuts each layer's step output into whole lines, per layer and stream, so that lines of
 * layers building at the same time can be told apart (and never share a terminal line). What
 * is left without a newline waits for the next chunk, or for `flush` when the layer ends.
 */
export class LineBuffers {
  private readonly partial = new Map<string, { layer: string; stream: OutputStream; text: string }>();

  /** The whole lines `chunk` completes (without their `\n`). */
  push(layer: string, stream: OutputStream, chunk: string): string[] {
    const key = `${stream}\0${layer}`;
    const text = (this.partial.get(key)?.text ?? '') + chunk;
    const lines = text.split('\n');
    let rest = lines.pop()!;
    if (rest.length > MAX_PARTIAL) {
      lines.push(rest);
      rest = '';
    }
    if (rest === '') this.partial.delete(key);
    else this.partial.set(key, { layer, stream, text: rest });
    return lines;
  }

  /** The unfinished lines of one layer (or of every layer), removed from the buffers. */
  flush(layer?: string): { layer: string; stream: OutputStream; line: string }[] {
    const out: { layer: string; stream: OutputStream; line: string }[] = [];
    for (const [key, p] of this.partial) {
      if (layer !== undefined && p.layer !== layer) continue;
      out.push({ layer: p.layer, stream: p.stream, line: p.text });
      this.partial.delete(key);
    }
    return out;
  }
}
