import { mark, processStartedAt } from '../core/trace.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { StackerError, StackerErrors, type BuildSpec, type Digest, type LayerSpec, type StackerFile } from '../core/index.js';
import { dependencyEdges } from '../graph/build-graph.js';
import type { BuildIndex, NewBuildNode } from '../cache/index.js';
import { canonicalJson } from '../fingerprint/canonical.js';
import { OciLayout } from '../oci/layout.js';
import { STARTED_ENV, type BuildOptions } from './build.js';
import type { NodeBuildContext } from './build-node.js';
import { fromRecord, toRecord } from './index-adapter.js';
import type { NodeDoc } from './inputs.js';
import type { NodeResult } from './node-result.js';
import { blobStoreDir, downloadsDir, importCopiesFile, importsDir } from './paths.js';
import type { PlanNode } from './plan.js';
import { schedule } from './schedule.js';

/**
 * Builds the plan's layers (hits are tagged, the rest built in dependency order). `outside`: this
 * process is not in the build namespaces and builds as engine/outside.ts says.
 */
export async function execute(o: BuildOptions, spec: BuildSpec, steps: PlanNode[], docs: Map<string, NodeDoc>, index: BuildIndex, outside = false): Promise<number> {
  mark('execute');
  const store = await OciLayout.open(blobStoreDir(o.paths), { create: true, paramName: 'stacker-dir store' });
  const output = await OciLayout.open(o.paths.ociDir, { create: true });
  const results = new Map<string, NodeResult>();
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  mark('layouts');
  const buildId = index.startBuild({ argv: o.argv, toolVersion: '0.1.0' });
  // From the start of the command the user ran (the planner's, for the builder it re-executed).
  const t0Build = Number(process.env[STARTED_ENV]) || processStartedAt();
  // Every node is recorded before anything runs: a node that must build starts as 'skipped'
  // (not built yet) with its key, the key it was compared against, its reasons and its whole
  // input document, so a failed or killed build can still be explained (`why-rebuilt --build N`).
  const row = (step: PlanNode): NewBuildNode => {
    const r: NewBuildNode = { layer: step.name, status: step.state === 'cached' ? 'cached' : 'skipped', key: step.key as Digest };
    if (step.state === 'build') {
      r.reason = step.reason ?? '';
      r.reasonDetail = step.reasons ?? [];
      if (step.prevKey !== undefined) r.prevKey = step.prevKey as Digest;
    }
    return r;
  };
  // The input documents of the layers to build, as stored: once for the history, again with the result.
  const docTexts = new Map(steps.filter((s) => s.state === 'build').map((s) => [s.name, canonicalJson(docs.get(s.name)!.doc)]));
  index.recordBuildNodes(buildId, steps.map((step) => (step.state === 'build' ? { ...row(step), inputDocument: docTexts.get(step.name)! } : row(step))));
  mark('history rows');
  // Loaded here, not at the top: planning alone (why-rebuilt, publish) does not tag outputs.
  const { retagOutputs } = await import('./output.js');
  const toBuild = steps.filter((s) => s.state === 'build');
  const hitSteps = steps.filter((s) => s.state === 'cached');
  // A shell on failure needs the terminal to itself.
  const jobs = o.shellFail ? 1 : Math.max(1, Math.min(o.jobs ?? availableParallelism(), Math.max(1, toBuild.length)));
  o.events.emit({ type: 'build-planned', layers: steps.length, toBuild: toBuild.length, cached: steps.length - toBuild.length, jobs, inProcess: process.env.STACKER_IN_NAMESPACE !== '1' });
  const counts = { built: 0, cached: 0, failed: 0 };
  const failures: { layer: string; error: unknown }[] = [];
  let finished = false;
  const finish = (status: 'success' | 'failed' | 'interrupted'): void => {
    if (finished) return;
    finished = true;
    const summary = { ...counts, notRun: steps.length - counts.built - counts.cached - counts.failed, durationMs: Date.now() - t0Build };
    index.finishBuild(buildId, status, summary);
    o.events.emit({
      type: 'build-finished', status, ...summary,
      failures: failures.map(({ layer, error }) => {
        const { code, message } = asStackerError(error);
        return { layer, code, message };
      }),
    });
  };
  const resultOf = (name: string): NodeResult => {
    const r = results.get(name);
    if (r === undefined) throw new Error(`bug: ${name} used before it was built`);
    return r;
  };
  const fileOf = (layer: LayerSpec): StackerFile => spec.files.find((f) => f.path === layer.file)!;
  // Tags go into the output layout as layers finish (the layout serializes its index updates).
  let tagsMoved = 0;
  const tag = async (names: string[]): Promise<void> => {
    const layers = names.map((n) => spec.layers.get(n)!).filter((l) => !l.buildOnly);
    // Read after the await: tags of hits and of built layers may be written at once.
    const moved = await retagOutputs(layers.map((layer) => ({ store, output, layer, file: fileOf(layer), result: resultOf(layer.name), namespace: o.annotationsNamespace })));
    tagsMoved += moved;
  };

  let hitsTagged: Promise<void> = Promise.resolve();
  try {
    // Hits first, in plan order: their results come from the index, whatever their parents are.
    const hits = index.lookupMany(hitSteps.map((s) => s.key), { document: false });
    for (const step of hitSteps) {
      const rec = hits.get(step.key);
      if (rec === undefined) throw new Error(`bug: cached layer ${step.name} has no record (${step.key})`);
      results.set(step.name, fromRecord(rec));
      counts.cached++;
      o.events.emit({ type: 'cache-hit', layer: step.name, key: step.key, manifest: rec.manifestDigest ?? undefined });
    }
    mark('hits');
    // The hits' tags are written while the first layers build (their run steps mostly wait for
    // other processes): from the first turn of the event loop, when the build first waits (for
    // the modules it loads, a mount, a run step), one tag per turn. The layout serializes its
    // index updates, and the build ends after them.
    hitsTagged = new Promise<void>((resolve) => setImmediate(resolve)).then(() => tag(hitSteps.map((s) => s.name))).finally(() => mark('tagged'));
    hitsTagged.catch(() => {}); // awaited below
    if (toBuild.length > 0) {
      // The build machinery (layer codec, mounts, sandbox) loads only when something must build.
      const ctx = await buildContext(o, store, resultOf, abort.signal, outside);
      const { buildNode } = await import('./build-node.js');
      mark('build context');
      const buildOne = async (step: PlanNode): Promise<void> => {
        const layer = spec.layers.get(step.name)!;
        const { doc } = docs.get(step.name)!;
        o.events.emit({ type: 'node-started', layer: step.name, reason: step.reason ?? '' });
        const t0 = Date.now();
        try {
          const r = await buildNode(ctx, layer, fileOf(layer), doc.base.type === 'docker' ? doc.base.manifest : undefined);
          mark(`built ${step.name}`);
          results.set(step.name, r);
          index.recordNode(toRecord(step.key, step.name, docTexts.get(step.name)!, r, layer.buildOnly));
          counts.built++;
          index.recordBuildNode(buildId, { ...row(step), status: 'built', durationMs: Date.now() - t0 });
          o.events.emit({ type: 'node-built', layer: step.name, key: step.key, manifest: r.manifest.digest, seconds: (Date.now() - t0) / 1000 });
        } catch (e) {
          counts.failed++;
          failures.push({ layer: step.name, error: e });
          index.recordBuildNode(buildId, { ...row(step), status: 'failed', durationMs: Date.now() - t0 });
          o.events.emit({ type: 'node-failed', layer: step.name, error: asStackerError(e) });
          return;
        }
        mark(`recorded ${step.name}`);
        // Built and recorded; only its tag in the output layout failed.
        await tag([step.name]).catch((e: unknown) => failures.push({ layer: step.name, error: e }));
        mark(`tagged ${step.name}`);
      };
      await schedule(toBuild, jobs, (name) => dependencyEdges(spec.layers.get(name)!).map((e) => e.from), results, () => failures.length > 0 || abort.signal.aborted, buildOne);
    }
    await hitsTagged;
    if (abort.signal.aborted) {
      finish('interrupted');
      const interrupted = failures.find(({ error }) => error instanceof StackerError && error.code === 'STACKER_E_INTERRUPTED');
      throw interrupted?.error ?? new StackerError('STACKER_E_INTERRUPTED', 'build interrupted', { exitCode: 130 });
    }
    if (failures.length > 0) {
      finish('failed');
      if (failures.length === 1) throw failures[0]!.error;
      throw new StackerErrors(failures.map(({ layer, error }) => inLayer(layer, asStackerError(error))));
    }
    finish('success');
    mark('finished');
    // Like stacker: blobs no tag reaches any more leave the output layout (the store keeps them).
    // Only a moved tag can leave blobs unreached.
    if (tagsMoved > 0) await output.gc();
    mark('gc');
    return 0;
  } catch (e) {
    await hitsTagged.catch(() => {});
    finish(abort.signal.aborted ? 'interrupted' : 'failed');
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function asStackerError(e: unknown): StackerError {
  if (e instanceof StackerError) return e;
  return new StackerError('STACKER_E_INTERNAL', (e as Error)?.message ?? String(e), { cause: e, hint: 'this is a bug in stacker; rerun with --debug for details' });
}

/** The error with the layer's name in front, unless the message already names it. */
function inLayer(layer: string, e: StackerError): StackerError {
  if (e.message.includes(layer)) return e;
  return new StackerError(e.code, `${layer}: ${e.message}`, { ...(e.hint !== undefined ? { hint: e.hint } : {}), ...(e.location !== undefined ? { location: e.location } : {}), cause: e, exitCode: e.exitCode });
}

async function buildContext(o: BuildOptions, store: OciLayout, resultOf: (name: string) => NodeResult, signal: AbortSignal, outside: boolean): Promise<NodeBuildContext> {
  const [{ mountChain }, { unmount }, { OverlayStore, secureJoin }] = await Promise.all([
    import('./build-node.js'), import('../runtime/mount.js'), import('../storage/index.js'),
  ]);
  const overlay = new OverlayStore(o.paths.rootsDir);
  overlay.removeLeftovers();
  const ctx: NodeBuildContext = {
    cwd: o.paths.cwd, store, overlay, events: o.events, inFlight: new Map(),
    importsDir: (l) => importsDir(o.paths, l), importCopiesFile: (l) => importCopiesFile(o.paths, l), downloadsDir: downloadsDir(o.paths), resultOf,
    grab: async (layer, path, use) => {
      const mnt = mkdtempSync(join(o.paths.rootsDir, '.tmp-grab-'));
      await mountChain(ctx, resultOf(layer), mnt);
      try {
        use(secureJoin(mnt, path));
      } finally {
        await unmount(mnt);
        rmSync(mnt, { recursive: true, force: true });
      }
    },
    sourceDateEpoch: o.sourceDateEpoch !== undefined ? Number(o.sourceDateEpoch) : undefined,
    annotationsNamespace: o.annotationsNamespace,
    shellFail: o.shellFail,
    signal,
    outside,
  };
  return ctx;
}
