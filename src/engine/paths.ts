import { join, resolve } from 'node:path';

/** Where a build keeps its state; from the global flags (`--work-dir` moves all defaults). */
export interface StackerPaths {
  cwd: string;
  stackerDir: string;
  ociDir: string;
  rootsDir: string;
}

export function resolvePaths(opts: { cwd: string; workDir?: string; stackerDir?: string; ociDir?: string; rootsDir?: string }): StackerPaths {
  const base = opts.workDir ? resolve(opts.cwd, opts.workDir) : opts.cwd;
  return {
    cwd: opts.cwd,
    stackerDir: resolve(opts.cwd, opts.stackerDir ?? join(base, '.stacker')),
    ociDir: resolve(opts.cwd, opts.ociDir ?? join(base, 'oci')),
    rootsDir: resolve(opts.cwd, opts.rootsDir ?? join(base, 'roots')),
  };
}

export const blobStoreDir = (p: StackerPaths): string => join(p.stackerDir, 'store');
export const importsDir = (p: StackerPaths, layer: string): string => join(p.stackerDir, 'imports', layer);
/** What a layer's imports dir holds, as copied (imports.ts); not in the imports dir, which run steps see. */
export const importCopiesFile = (p: StackerPaths, layer: string): string => join(p.stackerDir, 'import-copies', `${layer}.json`);
export const downloadsDir = (p: StackerPaths): string => join(p.stackerDir, 'downloads');
