import { resolvePaths, type StackerPaths } from '../../engine/paths.js';
import type { EventSink } from '../../core/index.js';
import { humanReporter, jsonReporter } from '../../report/index.js';
import { resolve } from 'node:path';
import type { LoadOptions } from '../../config/index.js';
import { bool, list, str, type Values } from '../args.js';

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

/**
 * How every command loads the stacker file from its flags: the same substitutions and built-ins
 * as `build`, so planning commands (publish, graph, why-rebuilt) compute the same keys.
 */
export function loadOptionsFrom(v: Values, paths: StackerPaths, file = str(v, 'stacker-file') ?? 'stacker.yaml'): LoadOptions {
  return {
    file,
    cwd: paths.cwd,
    substitutions: list(v, 'substitute'),
    ...(str(v, 'substitute-file') ? { substituteFile: str(v, 'substitute-file')! } : {}),
    builtins: {
      STACKER_ROOTFS_DIR: paths.rootsDir,
      STACKER_STACKER_DIR: paths.stackerDir,
      STACKER_OCI_DIR: paths.ociDir,
      STACKER_WORK_DIR: str(v, 'work-dir') ? resolve(str(v, 'work-dir')!) : paths.cwd,
    },
    ...(bool(v, 'require-hash') ? { requireHash: true } : {}),
  };
}
