import { resolvePaths, type StackerPaths } from '../../engine/paths.js';
import type { EventSink } from '../../core/index.js';
import { humanReporter, jsonReporter, progressReporter, wantsColor, wantsProgress } from '../../report/index.js';
import { join, resolve } from 'node:path';
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

/** `--json` events, the live progress display on a terminal, or plain lines (see wantsProgress). */
export function reporterFrom(v: Values): EventSink {
  if (bool(v, 'json')) return jsonReporter(process.stdout);
  const o = { out: process.stdout, err: process.stderr, debug: bool(v, 'debug'), quiet: bool(v, 'quiet') };
  const progress = wantsProgress({
    progress: bool(v, 'progress'),
    noProgress: bool(v, 'no-progress'),
    quiet: o.quiet,
    json: false,
    interactive: bool(v, 'shell-fail') || str(v, 'on-run-failure') !== undefined,
    isTTY: process.stdout.isTTY === true,
    env: process.env,
  });
  return progress ? progressReporter({ ...o, color: wantsColor(process.env) }) : humanReporter(o);
}

/**
 * How every command loads the stacker file from its flags: the same substitutions and built-ins
 * as `build`, so planning commands (publish, graph, why-rebuilt) compute the same keys. Loaded
 * specs are kept in `<stacker dir>/spec-cache`: unchanged files are not parsed again.
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
    specCacheDir: join(paths.stackerDir, 'spec-cache'),
  };
}
