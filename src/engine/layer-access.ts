import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { StackerError, nullSink } from '../core/index.js';
import { BuildIndex } from '../cache/index.js';
import { loadBuildSpec, type LoadOptions } from '../config/index.js';
import { OciLayout } from '../oci/layout.js';
import type { ImageConfig } from '../oci/types.js';
import { DEFAULT_PATH, mountOverlay, runSandbox, unmount } from '../runtime/index.js';
import { OverlayStore, secureJoin } from '../storage/index.js';
import { ensureExtracted, type NodeBuildContext } from './build-node.js';
import { fromRecord } from './index-adapter.js';
import { blobStoreDir, type StackerPaths } from './paths.js';

/** The runtime part of a built layer's image config (env, working dir), when it has one. */
export type LayerRuntime = NonNullable<ImageConfig['config']>;

/**
 * Mounts the rootfs of the most recent build of `layer` (inside the build namespace) and runs
 * `fn` on it. `writable` gives a temporary upper dir that is thrown away afterwards.
 * Works for build_only layers too (they are in the index, just not tagged).
 */
export async function withLayerRootfs<T>(paths: StackerPaths, layer: string, writable: boolean, fn: (rootfs: string, runtime: LayerRuntime) => Promise<T>): Promise<T> {
  const index = existsSync(paths.stackerDir) ? BuildIndex.open(paths.stackerDir) : undefined;
  const rec = index?.latestForLayer(layer);
  index?.close();
  if (rec === undefined) {
    throw new StackerError('STACKER_E_NOT_BUILT', `layer ${layer} has not been built`, { hint: `run \`stacker build\` first (stacker dir: ${paths.stackerDir})` });
  }
  const result = fromRecord(rec);
  const store = await OciLayout.open(blobStoreDir(paths), { create: true });
  const config = await store.readJson<ImageConfig>(result.config.digest).catch(() => undefined);
  const overlay = new OverlayStore(paths.rootsDir);
  const ctx = { store, overlay, events: nullSink } as unknown as NodeBuildContext;
  for (let i = 0; i < result.layers.length; i++) await ensureExtracted(ctx, result.layers[i]!, result.diffIds[i]!);
  mkdirSync(paths.rootsDir, { recursive: true });
  const tmp = mkdtempSync(join(paths.rootsDir, '.access-'));
  const rootfs = join(tmp, 'rootfs');
  for (const d of ['rootfs', 'upper', 'work']) mkdirSync(join(tmp, d));
  const lowers = [...result.diffIds].reverse().map((d) => overlay.layerDirRel(d));
  lowers.push(overlay.emptyDirRel());
  const rel = (p: string): string => relative(paths.rootsDir, p);
  try {
    await mountOverlay({
      lowers, target: rootfs, cwd: paths.rootsDir,
      ...(writable ? { upper: rel(join(tmp, 'upper')), work: rel(join(tmp, 'work')) } : { readonly: true }),
    });
    try {
      return await fn(rootfs, config?.config ?? {});
    } finally {
      await unmount(rootfs);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** An interactive process in a layer's rootfs (chroot/exec): stdin attached, the image's env and working dir. */
export async function interactiveIn(rootfs: string, cmd: string[], runtime: LayerRuntime = {}): Promise<number> {
  for (const d of ['proc', 'dev', 'sys']) mkdirSync(join(rootfs, d), { recursive: true });
  const env: Record<string, string> = { PATH: DEFAULT_PATH, TERM: process.env.TERM ?? 'xterm' };
  for (const kv of runtime.Env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const cwd = runtime.WorkingDir && existsSync(secureJoin(rootfs, runtime.WorkingDir)) ? runtime.WorkingDir : '/';
  const r = await runSandbox({ rootfs, argv: cmd, env, roBinds: [], binds: [], roTmpfs: [], interactive: true, cwd });
  return r.exitCode;
}

/**
 * Copies `path` of a mounted layer rootfs into `destDir` under its base name (a file, or a
 * directory with its contents; symlinks are copied as links). Refuses to overwrite.
 */
export function grabFrom(rootfs: string, layer: string, path: string, destDir: string): string {
  const name = basename(path);
  if (name === '' || name === '.' || name === '..') {
    throw new StackerError('STACKER_E_USAGE', `grab ${layer}:${path}: name a file or directory, not the root`);
  }
  const src = secureJoin(rootfs, path);
  if (!existsSync(src) && !isLink(src)) throw new StackerError('STACKER_E_NOT_FOUND', `${path} does not exist in layer ${layer}`);
  const dest = join(destDir, name);
  if (existsSync(dest) || isLink(dest)) throw new StackerError('STACKER_E_EXISTS', `${dest} already exists`, { hint: 'remove it or grab from another directory' });
  cpSync(src, dest, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  return dest;
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** `chroot` without a layer: the first layer of the stacker file (as stacker), if there is one. */
export async function defaultLayer(load: LoadOptions): Promise<string | undefined> {
  if (!existsSync(join(load.cwd, load.file))) return undefined;
  const { spec } = await loadBuildSpec(load);
  const top = spec.files[spec.files.length - 1];
  return top?.layerNames[0];
}
