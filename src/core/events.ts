import type { StackerError } from './errors.js';

/**
 * What the engine reports. The engine never prints: reporters in `report/` turn these into
 * terminal lines or NDJSON.
 */
export type BuildEvent =
  | { type: 'log'; level: 'debug' | 'info' | 'warn'; message: string; layer?: string }
  | { type: 'node-planned'; layer: string; key: string; state: 'cached' | 'build'; reason?: string }
  | { type: 'cache-hit'; layer: string; key: string; manifest?: string }
  | { type: 'node-started'; layer: string; reason: string }
  | { type: 'pull-progress'; ref: string; digest: string; bytes: number; total: number; layer?: string }
  | { type: 'step-output'; layer: string; stream: 'stdout' | 'stderr'; chunk: string }
  | { type: 'layer-written'; layer: string; digest: string; diffId: string; size: number; seconds: number }
  | { type: 'node-built'; layer: string; key: string; manifest?: string; seconds: number }
  | { type: 'node-failed'; layer: string; error: StackerError }
  /** Once per build, after planning: how many layers, how many must build, how many run at once. */
  /** `inProcess`: built by the process the user started (not a builder re-executed inside the namespaces). */
  | { type: 'build-planned'; layers: number; toBuild: number; cached: number; jobs: number; inProcess?: boolean }
  /** A layer moved to another step of its build. */
  | { type: 'node-step'; layer: string; step: BuildStep }
  /** Bytes of tar packed so far for a layer (uncompressed). */
  | { type: 'pack-progress'; layer: string; bytes: number }
  /** Once per build, at its end: what happened to each layer, and every failure. */
  | {
      type: 'build-finished';
      status: 'success' | 'failed' | 'interrupted';
      built: number;
      cached: number;
      failed: number;
      notRun: number;
      durationMs: number;
      failures: { layer: string; code: string; message: string }[];
    };

/** The steps of one layer's build, in order (a layer skips those it has nothing for). */
export type BuildStep = 'base' | 'extract' | 'imports' | 'run' | 'pack' | 'commit';

export interface EventSink {
  emit(event: BuildEvent): void;
}

export const nullSink: EventSink = { emit() {} };
