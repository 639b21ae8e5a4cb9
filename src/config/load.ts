import { mark } from '../core/trace.js';
import path from 'node:path';
import type { BuildSpec } from '../core/index.js';
import { checkImports } from './check-imports.js';
import { Diagnostics } from './diagnostics.js';
import { ociArch } from './platform.js';
import { isHttpUrl } from './read-source.js';
import { SpecCache } from './spec-cache.js';

export interface LoadOptions {
  /** The `-f` value: a local path (relative to `cwd`) or an http(s) URL. */
  file: string;
  cwd: string;
  /** Each `--substitute K=V`, in order. */
  substitutions: string[];
  /** `--substitute-file` path (relative to `cwd`): a YAML map `K: V`. */
  substituteFile?: string;
  /** STACKER_ROOTFS_DIR, STACKER_STACKER_DIR, STACKER_OCI_DIR, STACKER_WORK_DIR (absolute). */
  builtins: Record<string, string>;
  /** `--require-hash`: every http(s) import must carry a `hash`. */
  requireHash?: boolean;
  /** Default `os` of layers (default 'linux'). */
  defaultOs?: string;
  /** Default `arch` of layers (default: the host's, in OCI naming). */
  defaultArch?: string;
  /**
   * Where to keep loaded specs (spec-cache.ts), so that loading unchanged files again needs no
   * YAML parsing. Unset: no cache.
   */
  specCacheDir?: string;
}

/** LoadOptions with the defaults filled in. */
export type ResolvedLoadOptions = LoadOptions & { defaultOs: string; defaultArch: string };

export interface LoadResult {
  spec: BuildSpec;
  /** Rendered warnings (`file:line:col: text`): deprecated directives, ignored keys, ... */
  warnings: string[];
  /** True when the spec came from the spec cache (the files were not parsed). */
  fromCache?: boolean;
}

/**
 * Loads a stacker file and, recursively, its `config.prerequisites` into one `BuildSpec`:
 * substitution, YAML parsing, validation, path absolutization, layer-name uniqueness and local
 * import existence. Every problem found is reported: one as a `StackerError`, several as
 * `StackerErrors`; each error of a file carries its location.
 *
 * With `specCacheDir`, a load of files unchanged since a previous successful load returns that
 * load's spec and warnings without parsing (the YAML parser is not even loaded then); only the
 * imports' existence is checked again. When files changed, the entries of a file that did not
 * change keep the layers that load made, and only the changed entries are parsed
 * (parse-changed.ts says when that is exact; otherwise the file is parsed whole). The result is
 * the same either way.
 */
export async function loadBuildSpec(options: LoadOptions): Promise<LoadResult> {
  const opts: ResolvedLoadOptions = { ...options, defaultOs: options.defaultOs ?? 'linux', defaultArch: options.defaultArch ?? ociArch() };
  const cache = specCacheFor(opts);
  const diag = new Diagnostics();
  const { hit, previous } = cache?.lookup() ?? {};
  mark('spec: looked up');
  if (hit !== undefined) {
    checkImports(hit.spec.layers, diag);
    diag.throwIfFailed();
    return { ...hit, fromCache: true };
  }
  const { parseBuildSpec } = await import('./parse-spec.js');
  mark('spec: parser loaded');
  const parsed = await parseBuildSpec(opts, diag, previous);
  mark('spec: parsed');
  checkImports(parsed.spec.layers, diag);
  diag.throwIfFailed();
  mark('spec: checked');
  cache?.store(parsed, diag.warnings);
  return { spec: parsed.spec, warnings: diag.warnings };
}

/** The cache entry for this way of loading: everything but the files' texts that the spec depends on. */
function specCacheFor(opts: ResolvedLoadOptions): SpecCache | undefined {
  if (opts.specCacheDir === undefined || isHttpUrl(opts.file)) return undefined;
  const substituteFile = opts.substituteFile === undefined ? undefined : path.resolve(opts.cwd, opts.substituteFile);
  const identity = {
    file: path.resolve(opts.cwd, opts.file),
    cwd: opts.cwd,
    substitutions: opts.substitutions,
    substituteFile: opts.substituteFile ?? null,
    builtins: opts.builtins,
    requireHash: opts.requireHash ?? false,
    defaultOs: opts.defaultOs,
    defaultArch: opts.defaultArch,
  };
  return new SpecCache(opts.specCacheDir, identity, substituteFile);
}
