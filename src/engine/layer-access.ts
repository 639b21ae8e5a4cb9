import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { StackerError, nullSink } from '../core/index.js';
import { BuildIndex } from '../cache/index.js';
import { OciLayout } from '../oci/layout.js';
import { mountOverlay, runSandbox, unmount } from '../runtime/index.js';
import { OverlayStore } from '../storage/index.js';
import { ensureExtracted, type NodeBuildContext } from './build-node.js';
import { fromRecord } from './index-adapter.js';
import { blobStoreDir, type StackerPaths } from './paths.js';

/**
 * Mounts the rootfs of the most recent build of `layer` (inside the build namespace) and runs
 * `fn` on it. `writable` gives a temporary upper dir that is thrown away afterwards.
 */
export async function withLayerRootfs<T>(paths: StackerPaths, layer: string, writable: boolean, fn: (rootfs: string) => Promise<T>): Promise<T> {
  const index = BuildIndex.open(paths.stackerDir);
  const rec = index.latestForLayer(layer);
  index.close();
  if (rec === undefined) {
    throw new StackerError('STACKER_E_NOT_BUILT', `layer ${layer} has not been built`, { hint: 'run `stacker build` first' });
  }
  const result = fromRecord(rec);
  const store = await OciLayout.open(blobStoreDir(paths), { create: true });
  const overlay = new OverlayStore(paths.rootsDir);
  const ctx = { store, overlay, events: nullSink } as unknown as NodeBuildContext;
  for (let i = 0; i < result.layers.length; i++) await ensureExtracted(ctx, result.layers[i]!, result.diffIds[i]!);
  const tmp = mkdtempSync(join(paths.rootsDir, '.access-'));
  const rootfs = join(tmp, 'rootfs');
  for (const d of ['rootfs', 'upper', 'work']) mkdirSync(join(tmp, d));
  const lowers = [...result.diffIds].reverse().map((d) => overlay.layerDirRel(d));
  lowers.push(overlay.emptyDirRel());
  const rel = (p: string): string => relative(paths.rootsDir, p);
  await mountOverlay({
    lowers, target: rootfs, cwd: paths.rootsDir,
    ...(writable ? { upper: rel(join(tmp, 'upper')), work: rel(join(tmp, 'work')) } : { readonly: true }),
  });
  try {
    return await fn(rootfs);
  } finally {
    await unmount(rootfs);
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** An interactive process in a layer's rootfs (chroot/exec), with the build's run environment. */
export async function interactiveIn(rootfs: string, cmd: string[]): Promise<number> {
  for (const d of ['proc', 'dev', 'sys', 'stacker']) mkdirSync(join(rootfs, d), { recursive: true });
  const r = await runSandbox({ rootfs, argv: cmd, env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', TERM: process.env.TERM ?? 'xterm' }, roBinds: [], binds: [], roTmpfs: [], interactive: true });
  return r.exitCode;
}
