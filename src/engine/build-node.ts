import { mark } from '../core/trace.js';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { BuildStep, Digest, EventSink, LayerSpec, StackerFile } from '../core/index.js';
import { StackerError } from '../core/index.js';
import type { OciLayout } from '../oci/layout.js';
import type { Descriptor } from '../oci/types.js';
import { unpackLayer } from '../oci/layer/index.js';
import { mountOverlay, unmount, type IdMap, type OverlayMount } from '../runtime/index.js';
import { removeTree } from './outside.js';
import type { OverlayStore } from '../storage/index.js';
import { loadBaseImage, unpackTarBase, type BaseImage } from './base-image.js';
import { materializeImports, type GrabFn } from './imports.js';
import type { NodeResult } from './node-result.js';
import { removeMountStubs, runStep } from './run-step.js';
import { copyIntoRootfs } from './copy-into-rootfs.js';
import { finishNode } from './finish-node.js';

export interface NodeBuildContext {
  cwd: string;
  store: OciLayout;
  overlay: OverlayStore;
  events: EventSink;
  importsDir: (layer: string) => string;
  importCopiesFile: (layer: string) => string;
  downloadsDir: string;
  resultOf: (name: string) => NodeResult;
  grab: GrabFn;
  /**
   * Work shared between layers building at once (a base pulled, a layer extracted): the first
   * caller of a key does it, later callers wait for the same promise.
   */
  inFlight: Map<string, Promise<unknown>>;
  sourceDateEpoch: number | undefined;
  annotationsNamespace: string;
  shellFail: boolean;
  signal: AbortSignal;
  /**
   * This process is outside the build namespaces (engine/outside.ts): each run step enters
   * namespaces of its own, and what only their root may do is done in a new one.
   */
  outside?: boolean;
}

/** Runs `fn` once per key among the layers building at once; a failure is not remembered. */
export function shared<T>(ctx: NodeBuildContext, key: string, fn: () => Promise<T>): Promise<T> {
  const cur = ctx.inFlight.get(key);
  if (cur !== undefined) return cur as Promise<T>;
  const p = fn().finally(() => ctx.inFlight.delete(key));
  ctx.inFlight.set(key, p);
  return p;
}

/** Makes sure the extracted form of a layer blob exists in the roots dir (once per diff_id). */
export async function ensureExtracted(ctx: NodeBuildContext, desc: Descriptor, diffId: Digest): Promise<void> {
  if (ctx.overlay.hasLayer(diffId)) return;
  return shared(ctx, `extract:${diffId}`, () => extract(ctx, desc, diffId));
}

async function extract(ctx: NodeBuildContext, desc: Descriptor, diffId: Digest): Promise<void> {
  const tmp = ctx.overlay.tempDir('extract');
  try {
    const r = await unpackLayer(ctx.store.blobPath(desc.digest), {
      destDir: tmp,
      mediaType: desc.mediaType,
      onWarning: (message) => ctx.events.emit({ type: 'log', level: 'warn', message }),
    });
    if (r.diffId !== diffId) {
      throw new StackerError('STACKER_E_DIFFID_MISMATCH', `layer ${desc.digest} unpacks to ${r.diffId}, but its image config says ${diffId}`, {
        hint: 'the base image is inconsistent; rebuild or re-push it',
      });
    }
    ctx.overlay.publishLayer(tmp, diffId);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Mounts a read-only view of a rootfs chain at `target` (used for stacker:// grabs). */
export async function mountChain(ctx: NodeBuildContext, r: NodeResult, target: string): Promise<void> {
  for (let i = 0; i < r.layers.length; i++) await ensureExtracted(ctx, r.layers[i]!, r.diffIds[i]!);
  mkdirSync(target, { recursive: true });
  const lowers = [...r.diffIds].reverse().map((d) => ctx.overlay.layerDirRel(d));
  lowers.push(ctx.overlay.emptyDirRel());
  await mountOverlay({ lowers, target, cwd: ctx.overlay.rootsDir, readonly: true });
}

/** Builds one layer: base rootfs, imports, run, pack, image config and manifest (in the store). */
export async function buildNode(ctx: NodeBuildContext, layer: LayerSpec, file: StackerFile, plannedBaseDigest?: string): Promise<NodeResult> {
  const step = (s: BuildStep): void => ctx.events.emit({ type: 'node-step', layer: layer.name, step: s });
  step('base');
  const load = (): Promise<BaseImage> => loadBaseImage({
    layer, store: ctx.store, cwd: ctx.cwd, resultOf: ctx.resultOf,
    ...(plannedBaseDigest !== undefined ? { plannedDigest: plannedBaseDigest } : {}),
    onProgress: (digest, bytes, total) => ctx.events.emit({ type: 'pull-progress', ref: layer.from.url ?? '', digest, bytes, total, layer: layer.name }),
  });
  // Layers on the same external base pull it once.
  const external = layer.from.type === 'docker' || layer.from.type === 'oci';
  const base = external ? await shared(ctx, `base:${layer.from.type}:${layer.from.url ?? ''}@${plannedBaseDigest ?? ''}:${layer.os}/${layer.arch}`, load) : await load();
  if (base.layers.some((_, i) => !ctx.overlay.hasLayer(base.diffIds[i]!))) {
    if (ctx.outside === true) throw new Error(`bug: ${layer.name} is built outside the namespace but its base is not extracted`);
    step('extract');
  }
  await Promise.all(base.layers.map((desc, i) => ensureExtracted(ctx, desc, base.diffIds[i]!)));

  mark('base ready');
  const area = ctx.overlay.freshWorkArea(layer.name);
  mark('work area');
  if (layer.from.type === 'tar') {
    await unpackTarBase({
      layer, cwd: ctx.cwd, downloadsDir: ctx.downloadsDir, grab: ctx.grab, upper: area.upper,
      onWarning: (message) => ctx.events.emit({ type: 'log', level: 'warn', message }),
    });
  }

  const lowers = [...base.diffIds].reverse().map((d) => ctx.overlay.layerDirRel(d));
  if (lowers.length === 0) lowers.push(ctx.overlay.emptyDirRel());
  const rel = (p: string): string => relative(ctx.overlay.rootsDir, p);
  const mount = { lowers, upper: rel(area.upper), work: rel(area.work), target: area.rootfs, cwd: ctx.overlay.rootsDir };
  if (ctx.outside === true) {
    try {
      return await buildFromOutside(ctx, layer, file, base, area, mount, step);
    } finally {
      // Whatever ended it: a work area left behind would send the next build inside the namespace.
      await removeTree(area.dir);
    }
  }
  await mountOverlay(mount);
  const stubs: string[] = [];
  try {
    const importsDir = ctx.importsDir(layer.name);
    step('imports');
    const names = await materializeImports(layer, area.rootfs, { importsDir, copiesFile: ctx.importCopiesFile(layer.name), downloadsDir: ctx.downloadsDir, grab: ctx.grab });
    copyOverlayDirs(layer, area.rootfs);
    if (layer.run.length > 0) {
      step('run');
      await runStep({ layer, rootfs: area.rootfs, importsDir, importNames: names, events: ctx.events, shellFail: ctx.shellFail, signal: ctx.signal, createdStubs: stubs });
    }
  } finally {
    await unmount(area.rootfs);
  }
  removeMountStubs(area.upper, stubs, lowers.map((l) => join(ctx.overlay.rootsDir, l)));
  const result = await finishNode(ctx, layer, file, base, area.upper);
  rmSync(area.dir, { recursive: true, force: true });
  return result;
}

/**
 * The layer's imports, run and pack from outside the build namespaces (engine/outside.ts): the
 * run step mounts the overlay in namespaces of its own.
 */
async function buildFromOutside(
  ctx: NodeBuildContext, layer: LayerSpec, file: StackerFile, base: BaseImage,
  area: { upper: string }, mount: OverlayMount, step: (s: BuildStep) => void,
): Promise<NodeResult> {
  const importsDir = ctx.importsDir(layer.name);
  step('imports');
  const names = await materializeImports(layer, mount.target, { importsDir, copiesFile: ctx.importCopiesFile(layer.name), downloadsDir: ctx.downloadsDir, grab: ctx.grab });
  mark('imports');
  const stubs: string[] = [];
  // Without a run step nothing is written in the upper dir: no id in it to translate.
  let ids: IdMap = NO_IDS;
  if (layer.run.length > 0) {
    ids = (await runStep({
      layer, rootfs: mount.target, importsDir, importNames: names, events: ctx.events, shellFail: false, signal: ctx.signal, createdStubs: stubs,
      outside: { overlay: mount, onStarted: () => step('run') },
    }))!;
  }
  return finishNode(ctx, layer, file, base, area.upper, { stubs, lowers: mount.lowers.map((l) => join(ctx.overlay.rootsDir, l)), ids });
}

const NO_IDS: IdMap = { uid: () => undefined, gid: () => undefined };

/** overlay_dirs: host directories whose contents are copied to `dest` before `run` (owned by root). */
function copyOverlayDirs(layer: LayerSpec, rootfs: string): void {
  for (const d of layer.overlayDirs) {
    let st;
    try {
      st = statSync(d.source);
    } catch {
      throw new StackerError('STACKER_E_OVERLAY_DIR', `Given overlay_dir ${d.source} doesn't exists`, { location: d.location });
    }
    if (!st.isDirectory()) throw new StackerError('STACKER_E_OVERLAY_DIR', `Given overlay_dir ${d.source} should be a directory`, { location: d.location });
    copyIntoRootfs(d.source, rootfs, d.dest, {});
  }
}

