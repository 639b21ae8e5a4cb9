/** What decides between the live progress display and plain lines. */
export interface ProgressChoice {
  /** `--progress`: the display even when stdout is not a terminal (or TERM=dumb). */
  progress: boolean;
  /** `--no-progress`. */
  noProgress: boolean;
  quiet: boolean;
  json: boolean;
  /** A shell may open on a failed run (`--shell-fail`): it needs the terminal to itself. */
  interactive: boolean;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

/**
 * The live display on a terminal, plain lines otherwise: never with --json, --quiet,
 * --no-progress or a shell on failure; forced by --progress; not on a dumb terminal.
 */
export function wantsProgress(c: ProgressChoice): boolean {
  if (c.json || c.quiet || c.noProgress || c.interactive) return false;
  if (c.progress) return true;
  return c.isTTY && c.env.TERM !== 'dumb';
}

/** Colours unless NO_COLOR is set (https://no-color.org) or the terminal is dumb. */
export function wantsColor(env: NodeJS.ProcessEnv): boolean {
  return (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb';
}
