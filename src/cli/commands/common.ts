import { resolvePaths, type StackerPaths } from '../../engine/paths.js';
import type { EventSink } from '../../core/index.js';
import { humanReporter, jsonReporter } from '../../report/index.js';
import { bool, str, type Values } from '../args.js';

export function pathsFrom(v: Values): StackerPaths {
  return resolvePaths({
    cwd: process.cwd(),
    ...(str(v, 'work-dir') ? { workDir: str(v, 'work-dir')! } : {}),
    ...(str(v, 'stacker-dir') ? { stackerDir: str(v, 'stacker-dir')! } : {}),
    ...(str(v, 'oci-dir') ? { ociDir: str(v, 'oci-dir')! } : {}),
    ...(str(v, 'roots-dir') ? { rootsDir: str(v, 'roots-dir')! } : {}),
  });
}

export function reporterFrom(v: Values): EventSink {
  if (bool(v, 'json')) return jsonReporter(process.stdout);
  return humanReporter({ out: process.stdout, err: process.stderr, debug: bool(v, 'debug'), quiet: bool(v, 'quiet') });
}
