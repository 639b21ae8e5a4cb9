import { createHash } from 'node:crypto';
import { chmodSync, cpSync, lchownSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { StackerError, type ImportSpec, type LayerSpec } from '../core/index.js';
import { copyIntoRootfs, placeDestImport } from './copy-into-rootfs.js';
import { fetchUrl } from './fetch-url.js';

/** Reads a path out of another layer's rootfs (mounted read-only while the callback runs). */
export type GrabFn = (layer: string, path: string, use: (hostPath: string) => void) => Promise<void>;

export interface ImportContext {
  importsDir: string;
  downloadsDir: string;
  grab: GrabFn;
}

/** Name an import has under /stacker/imports (and /stacker). */
export function importName(imp: ImportSpec): string {
  const p = imp.kind === 'stacker' ? (imp.stackerPath ?? '') : imp.path;
  return basename(p.replace(/\/+$/, '')) || 'import';
}

/**
 * Puts every import where the run step sees it: imports without `dest` in the layer's imports
 * dir (bound read-only at /stacker/imports), imports with `dest` straight into the rootfs.
 * Returns the names made available under /stacker/imports.
 */
export async function materializeImports(layer: LayerSpec, rootfs: string, ctx: ImportContext): Promise<string[]> {
  rmSync(ctx.importsDir, { recursive: true, force: true });
  mkdirSync(ctx.importsDir, { recursive: true });
  const names: string[] = [];
  for (const imp of layer.imports) {
    await withSource(imp, ctx, (src) => {
      const name = importName(imp);
      if (imp.dest !== undefined) {
        const isDir = lstatSync(src).isDirectory();
        const target = placeDestImport({ sourceIsDir: isDir, path: imp.rawPath, dest: imp.dest, basename: name });
        copyIntoRootfs(src, rootfs, target, own(imp));
        return;
      }
      const dst = join(ctx.importsDir, name);
      rmSync(dst, { recursive: true, force: true });
      cpSync(src, dst, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      applyImportOwnership(dst, imp);
      names.push(name);
    });
  }
  return names;
}

function own(imp: ImportSpec): { mode?: number; uid?: number; gid?: number } {
  return { ...(imp.mode !== undefined ? { mode: imp.mode } : {}), ...(imp.uid !== undefined ? { uid: imp.uid } : {}), ...(imp.gid !== undefined ? { gid: imp.gid } : {}) };
}

function applyImportOwnership(p: string, imp: ImportSpec): void {
  const st = lstatSync(p);
  if (imp.mode !== undefined && !st.isSymbolicLink() && !st.isDirectory()) chmodSync(p, imp.mode);
  if (imp.uid !== undefined || imp.gid !== undefined) lchownSync(p, imp.uid ?? st.uid, imp.gid ?? st.gid);
}

async function withSource(imp: ImportSpec, ctx: ImportContext, use: (src: string) => void): Promise<void> {
  if (imp.kind === 'stacker') {
    await ctx.grab(imp.stackerLayer!, imp.stackerPath ?? '/', use);
    return;
  }
  if (imp.kind === 'http') {
    const { file } = await fetchUrl(ctx.downloadsDir, imp.path, imp.hash);
    const named = join(ctx.downloadsDir, 'named', createHash('sha256').update(imp.path).digest('hex').slice(0, 16));
    rmSync(named, { recursive: true, force: true });
    mkdirSync(named, { recursive: true });
    const target = join(named, importName(imp));
    cpSync(file, target);
    use(target);
    return;
  }
  let st;
  try {
    st = statSync(imp.path);
  } catch {
    throw new StackerError('STACKER_E_IMPORT_MISSING', `import ${imp.rawPath} not found (${imp.path})`, {
      location: imp.location,
      hint: "paths are relative to the stacker.yaml's folder",
    });
  }
  if (imp.hash !== undefined && st.isFile()) {
    const actual = createHash('sha256').update(readFileSync(imp.path)).digest('hex');
    if (actual !== imp.hash) {
      throw new StackerError('STACKER_E_IMPORT_HASH',
        `The requested hash of ${imp.rawPath} import is different than the actual hash: ${imp.hash} != ${actual}`, {
          location: imp.location,
          hint: 'update `hash:` in the stacker.yaml if the file changed on purpose',
        });
    }
  }
  use(imp.path);
}
