import { StackerError, StackerErrors, type SourceLocation } from '../core/index.js';

/**
 * Collects every problem found while loading, so one run reports all of them. Warnings are
 * rendered strings (`file:line:col: text` when they have a location).
 */
export class Diagnostics {
  readonly errors: StackerError[] = [];
  readonly warnings: string[] = [];

  error(code: string, message: string, opts: { hint?: string; location?: SourceLocation } = {}): void {
    this.errors.push(new StackerError(code, message, opts));
  }

  warn(message: string, location?: SourceLocation): void {
    this.warnings.push(location ? `${location.file}:${location.line}:${location.col}: ${message}` : message);
  }

  get failed(): boolean {
    return this.errors.length > 0;
  }

  /** Throws the collected errors: one as a `StackerError`, several as `StackerErrors`. */
  throwIfFailed(): void {
    const [first] = this.errors;
    if (first === undefined) return;
    if (this.errors.length === 1) throw first;
    throw new StackerErrors([...this.errors]);
  }
}
