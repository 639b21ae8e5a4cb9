/** A position in a source file, 1-based, for diagnostics that point at a stacker.yaml. */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
  /** Length of the span to underline (at least 1). */
  length?: number;
  /** The text of the source line, for the rendered squiggle. */
  sourceLine?: string;
}

/**
 * A user-facing failure: a stable code (`STACKER_E_...`), a message, an optional hint and an
 * optional location. Rendering lives in `report/`; nothing here prints.
 */
export class StackerError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly location: SourceLocation | undefined;
  /** Process exit code to use when this error ends the command. */
  readonly exitCode: number;

  constructor(
    code: string,
    message: string,
    opts: { hint?: string; location?: SourceLocation; cause?: unknown; exitCode?: number } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'StackerError';
    this.code = code;
    this.hint = opts.hint;
    this.location = opts.location;
    this.exitCode = opts.exitCode ?? 1;
  }
}

/** Several errors reported together (e.g. every problem in a stacker.yaml at once). */
export class StackerErrors extends Error {
  readonly errors: StackerError[];
  constructor(errors: StackerError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'StackerErrors';
    this.errors = errors;
  }
}

export function isStackerError(e: unknown): e is StackerError {
  return e instanceof StackerError;
}
