/**
 * A build in the planner's own process: no second Node started inside the build namespaces.
 * Each run step gets namespaces of its own (runtime/ns-sandbox.ts); everything else a layer
 * needs is done from outside on files the build's root made (owned by the caller, or by its
 * subordinate ids), translating ids on packing. What the caller cannot do from outside (read a
 * file only another id of the namespace may read, move or remove such files) is done inside a
 * new namespace, so the result is the same either way; only the time differs.
 *
 * Taken when every layer to build has its base extracted already and needs nothing else that
 * only the namespace can do (see `outsideEligible`); otherwise the planner hands its plan to a
 * builder started inside the namespaces (build.ts).
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { StackerError, type BuildSpec, type Digest } from '../core/index.js';
import { mark } from '../core/trace.js';
import type { BuildIndex } from '../cache/index.js';
import { NEEDS_NAMESPACE, packLayer, type PackOptions, type PackResult } from '../oci/layer/index.js';
import { outsideProblem } from '../oci/layer/pack.js';
import { nsrunPath } from '../oci/layer/native.js';
import { walkUpper } from '../oci/layer/upper-walk.js';
import type { IdMap } from '../runtime/index.js';
import type { OverlayStore } from '../storage/index.js';
import type { NsPackJob } from '../cli/commands/ns-pack.js';
import { removeMountStubs } from './run-step.js';
import { fromRecord } from './index-adapter.js';
import type { PlanNode } from './plan.js';

/** Set to 1 to always build inside the namespaces (a second Node), as before this path existed. */
export const NO_OUTSIDE_ENV = 'STACKER_BUILD_INSIDE';

/**
 * Whether the layers to build can be built from this process: each on a `built` base (cached,
 * with every layer of its chain extracted, or built in this run), importing only local files and
 * URLs, without `dest`, owners, overlay_dirs or generate_labels, no shell on failure, and no work
 * area or temp dir left by a killed build (their files may be the namespace's to remove).
 */
export function outsideEligible(spec: BuildSpec, steps: PlanNode[], index: BuildIndex, overlay: OverlayStore, shellFail: boolean): boolean {
  if (shellFail || process.env[NO_OUTSIDE_ENV] === '1') return false;
  try {
    nsrunPath();
  } catch {
    return false; // not built (`stacker check` says so): the builder inside needs only the addon
  }
  const building = new Set(steps.filter((s) => s.state === 'build').map((s) => s.name));
  const keyOf = new Map(steps.map((s) => [s.name, s.key]));
  const parents: string[] = [];
  for (const name of building) {
    const layer = spec.layers.get(name)!;
    if (layer.from.type !== 'built' || layer.from.tag === undefined) return false;
    if (layer.overlayDirs.length > 0 || layer.generateLabels.length > 0) return false;
    if (layer.imports.some((i) => i.kind === 'stacker' || i.dest !== undefined || i.uid !== undefined || i.gid !== undefined)) return false;
    if (!building.has(layer.from.tag)) parents.push(layer.from.tag);
  }
  let leftovers: string[];
  try {
    leftovers = readdirSync(overlay.rootsDir);
  } catch {
    return false;
  }
  if (leftovers.some((n) => n.startsWith('.tmp-') || n.startsWith('.labels-') || building.has(n))) return false;
  const keys = parents.map((p) => keyOf.get(p)).filter((k): k is string => k !== undefined);
  if (keys.length !== parents.length) return false;
  mark('eligible: scanned');
  const records = index.lookupMany(keys, { document: false });
  mark('eligible: looked up');
  for (const key of keys) {
    const rec = records.get(key);
    if (rec === undefined) return false;
    if (!fromRecord(rec).diffIds.every((d) => overlay.hasLayer(d))) return false;
  }
  return true;
}

function deniedHere(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === 'EACCES' || code === 'EPERM' || code === NEEDS_NAMESPACE;
}

async function inside(argv: string[], what: string, signal?: AbortSignal): Promise<string> {
  mark(`inside: ${argv[0]}`);
  const { runInNamespace } = await import('../runtime/ns-process.js');
  const r = await runInNamespace(argv, signal);
  if (signal?.aborted === true) throw new StackerError('STACKER_E_INTERRUPTED', `${what} interrupted`, { exitCode: 130 });
  if (r.code !== 0) throw new StackerError('STACKER_E_NAMESPACE', `${what} in the build namespace failed: ${r.stderr.trim() || `exit status ${r.code}`}`);
  return r.stdout;
}

/** Removes a tree the build's root made (as `rm -rf` inside the namespace if need be). */
export async function removeTree(path: string): Promise<void> {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch (e) {
    if (!deniedHere(e)) throw e;
    await inside(['rm', '-rf', '--', path], `removing ${path}`);
  }
}

/** OverlayStore.publishLayer, renaming inside the namespace if need be (a dir the run made read-only). */
export async function publishLayer(overlay: OverlayStore, upper: string, diffId: Digest): Promise<void> {
  const dst = overlay.layerDir(diffId);
  if (existsSync(dst)) return removeTree(upper);
  try {
    overlay.publishLayer(upper, diffId);
  } catch (e) {
    if (!deniedHere(e)) throw e;
    mkdirSync(dirname(dst), { recursive: true });
    await inside(['mv', '-T', '--', upper, dst], `publishing ${upper}`);
  }
}

/**
 * After the run: takes the mount stubs out of the upper dir and packs it, from here with the
 * run's ids translated, or inside a new namespace (`stacker ns-pack`) when this process may not
 * read something there or an id or attribute cannot be translated.
 */
export async function packOutside(upper: string, stubs: string[], lowers: string[], ids: IdMap, opts: PackOptions, signal?: AbortSignal): Promise<PackResult | null> {
  try {
    removeMountStubs(upper, stubs, lowers);
    // Decided before anything is compressed, from metadata alone; the pack itself still falls
    // back should something change meanwhile.
    const why = whyNotHere(upper, ids);
    if (why === undefined) return await packLayer(upper, { ...opts, ids });
    mark(`pack inside: ${why}`);
  } catch (e) {
    if (!deniedHere(e)) throw e;
    mark(`pack inside: ${(e as Error).message}`);
  }
  const job: NsPackJob = { upper, out: opts.outFile, stubs, lowers, ...(opts.sourceDateEpoch !== undefined ? { sourceDateEpoch: opts.sourceDateEpoch } : {}) };
  const out = await inside([process.execPath, ...process.execArgv, process.argv[1]!, 'ns-pack', JSON.stringify(job)], `packing ${upper}`, signal);
  const r = JSON.parse(out) as PackResult | null;
  if (r !== null) opts.onProgress?.(r.uncompressedSize);
  return r;
}

/**
 * Why the upper dir cannot be packed from here, or undefined: a file this process may not read,
 * a directory it may not list, an id the namespace does not map, or an attribute whose value
 * depends on the namespace it is read in. A walk of metadata only (the pack walks it again).
 */
function whyNotHere(upper: string, ids: IdMap): string | undefined {
  try {
    for (const e of walkUpper(upper)) {
      if (e.kind !== 'node') continue;
      const why = outsideProblem(e.rel.toString('utf8'), e.st.uid, e.st.gid, e.xattrs.kept, ids);
      if (why !== undefined) return why;
      if (e.st.isFile() && e.st.size > 0) accessSync(e.abs, constants.R_OK);
    }
  } catch (e) {
    if (deniedHere(e)) return (e as Error).message;
    throw e;
  }
  return undefined;
}
