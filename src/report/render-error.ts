import { StackerError, StackerErrors } from '../core/index.js';

/**
 * Renders a user-facing error: code and message, the file:line:col with the source line and a
 * squiggle under the offending span, then the hint. Stack traces only with --debug.
 */
export function renderError(e: unknown, debug = false): string {
  if (e instanceof StackerErrors) return e.errors.map((x) => renderError(x, debug)).join('\n');
  if (!(e instanceof StackerError)) {
    const err = e as Error;
    return `error: ${err?.message ?? String(e)}${debug && err?.stack ? `\n${err.stack}` : '\n  (this is a bug in stacker; rerun with --debug for details)'}`;
  }
  const lines = [`error[${e.code}]: ${e.message}`];
  const loc = e.location;
  if (loc !== undefined) {
    lines.push(`  --> ${loc.file}:${loc.line}:${loc.col}`);
    if (loc.sourceLine !== undefined) {
      const n = String(loc.line);
      const pad = ' '.repeat(n.length);
      lines.push(`${pad} |`, `${n} | ${loc.sourceLine}`, `${pad} | ${' '.repeat(Math.max(0, loc.col - 1))}${'^'.repeat(Math.max(1, loc.length ?? 1))}`);
    }
  }
  if (e.hint !== undefined) lines.push(`  hint: ${e.hint}`);
  if (debug && e.stack) lines.push(e.stack);
  return lines.join('\n');
}
