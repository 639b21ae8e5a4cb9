/**
 * Timing marks for finding where a build's time goes: with STACKER_TRACE=1, each mark prints
 * `trace <pid> <ms since the command started> <label>` on stderr. The start is the planner's
 * (STACKER_STARTED_AT, handed to the builder) so both processes' marks share one clock.
 */
const on = process.env.STACKER_TRACE === '1';

export function mark(label: string): void {
  if (!on) return;
  // Read here, not when the module loads: the global `performance` loads perf_hooks (10 modules).
  const t0 = Number(process.env.STACKER_STARTED_AT) || performance.timeOrigin;
  process.stderr.write(`trace ${process.pid} ${(performance.timeOrigin + performance.now() - t0).toFixed(1)} ${label}\n`);
}

/**
 * When this process started, in ms since the epoch (to the millisecond). Not the global
 * `performance.timeOrigin`: reading `performance` loads perf_hooks (10 modules, ~2 ms).
 */
export function processStartedAt(): number {
  return startedAt;
}

/** Taken when this module loads (early in a command): a later change of the wall clock does not move it. */
const startedAt = Date.now() - Math.round(process.uptime() * 1000);
