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
  | { type: 'pull-progress'; ref: string; digest: string; bytes: number; total: number }
  | { type: 'step-output'; layer: string; stream: 'stdout' | 'stderr'; chunk: string }
  | { type: 'layer-written'; layer: string; digest: string; diffId: string; size: number; seconds: number }
  | { type: 'node-built'; layer: string; key: string; manifest?: string; seconds: number }
  | { type: 'node-failed'; layer: string; error: StackerError };

export interface EventSink {
  emit(event: BuildEvent): void;
}

export const nullSink: EventSink = { emit() {} };
