import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StackerError, type BuildSpec, type EventSink } from '../core/index.js';
import { BuildIndex } from '../cache/index.js';
import { loadBuildSpec, type LoadOptions } from '../config/index.js';
import { canonicalJson } from '../fingerprint/canonical.js';
import { StatCacheView } from '../fingerprint/stat-cache.js';
import { digestInput } from '../fingerprint/tree-digest.js';
import { ancestorsAndSelf, buildLayerGraph } from '../graph/index.js';
import { OciLayout } from '../oci/layout.js';
import { inBuildNamespace, reexecInNamespace } from '../runtime/userns.js';
import { resolveImageDigest } from './base-image.js';
import type { NodeBuildContext } from './build-node.js';
import { fetchUrl } from './fetch-url.js';
import { fromRecord, toRecord } from './index-adapter.js';
import type { InputDocument } from './input-document.js';
import { computeDocuments, type NodeDoc } from './inputs.js';
import { acquireLock } from './lock.js';
import type { NodeResult } from './node-result.js';
import { blobStoreDir, downloadsDir, importsDir, type StackerPaths } from './paths.js';
import { plan, type PlanNode } from './plan.js';
import { retagOutput } from './output.js';

export interface BuildOptions {
  paths: StackerPaths;
  load: LoadOptions;
  noCache: boolean;
  shellFail: boolean;
  annotationsNamespace: string;
  sourceDateEpoch: string | undefined;
  targets: string[];
  /** Print the order in which the files would build, and stop (`--order-only`). */
  orderOnly?: boolean;
  /** argv of this CLI invocation, to re-execute it inside the build namespace. */
  argv: string[];
  events: EventSink;
}

const LOCK_ENV = 'STACKER_LOCK_HELD_BY';
const PLAN_ENV = 'STACKER_PLAN_FILE';

interface Planned { docs: Map<string, NodeDoc>; steps: PlanNode[] }

function readHandedPlan(): Planned | undefined {
  const f = process.env[PLAN_ENV];
  if (f === undefined) return undefined;
  const data = JSON.parse(readFileSync(f, 'utf8')) as { docs: [string, NodeDoc][]; steps: PlanNode[] };
  return { docs: new Map(data.docs), steps: data.steps };
}

/** Input documents, keys and the plan: stat data, the index and base digests; no namespace. */
export async function planBuild(o: BuildOptions, spec: BuildSpec, order: string[], index: BuildIndex): Promise<Planned> {
  const statView = new StatCacheView(index.loadStatCache());
  const docs = await computeDocuments(spec, order, {
    resolveImage: (layer) => resolveImageDigest(layer, o.paths.cwd),
    digestLocal: (p) => digestInput(p, statView, { ownership: false }).digest,
    digestUrl: async (url) => (await fetchUrl(downloadsDir(o.paths), url)).digest,
  }, { sourceDateEpoch: o.sourceDateEpoch });
  index.saveStatCache(statView.changedRows());
  const known = new Set(index.lookupMany([...docs.values()].map((d) => d.key)).keys());
  const previous = new Map<string, InputDocument>();
  for (const name of order) {
    const rec = index.latestForLayer(name);
    if (rec !== undefined) previous.set(name, JSON.parse(rec.inputDocument) as InputDocument);
  }
  return { docs, steps: plan({ order, docs, known, previous, noCache: o.noCache }) };
}

/** `stacker build`: plan outside any namespace; enter one only when something must build. */
export async function runBuild(o: BuildOptions): Promise<number> {
  const { spec, warnings } = await loadBuildSpec(o.load);
  for (const w of warnings) o.events.emit({ type: 'log', level: 'warn', message: w });
  if (o.orderOnly) {
    spec.files.forEach((f, i) => o.events.emit({ type: 'log', level: 'info', message: `${i} build ${f.path}: requires: [${f.prerequisites.join(' ')}]` }));
    return 0;
  }
  const graph = buildLayerGraph(spec);
  const order = o.targets.length > 0 ? ancestorsAndSelf(graph, checkTargets(spec, o.targets)) : graph.order;

  const inherited = process.env[LOCK_ENV] !== undefined && inBuildNamespace();
  const release = inherited ? () => {} : await acquireLock(o.paths.stackerDir, {
    wait: true,
    onWait: (h) => o.events.emit({ type: 'log', level: 'info', message: `waiting for the lock on ${o.paths.stackerDir}, held by pid ${h.pid} (${h.cmd})` }),
  });
  const index = BuildIndex.open(o.paths.stackerDir);
  try {
    // Inside the namespace, use the plan the outer process made: the same keys, no second
    // round of hashing and registry requests (and file owners read the same as outside).
    const handed = inBuildNamespace() ? readHandedPlan() : undefined;
    const { docs, steps } = handed ?? await planBuild(o, spec, order, index);
    if (steps.some((s) => s.state === 'build') && !inBuildNamespace()) {
      index.close();
      process.env[LOCK_ENV] = String(process.pid);
      const planFile = join(o.paths.stackerDir, `plan-${process.pid}.json`);
      writeFileSync(planFile, JSON.stringify({ docs: [...docs], steps }));
      process.env[PLAN_ENV] = planFile;
      try {
        return await reexecInNamespace(o.argv);
      } finally {
        rmSync(planFile, { force: true });
      }
    }
    return await execute(o, spec, steps, docs, index);
  } finally {
    index.close();
    release();
  }
}

function checkTargets(spec: BuildSpec, targets: string[]): string[] {
  for (const t of targets) {
    if (!spec.layers.has(t)) {
      throw new StackerError('STACKER_E_UNKNOWN_TARGET', `--target ${t}: no such layer`, { hint: `layers: ${[...spec.layers.keys()].join(', ')}` });
    }
  }
  return targets;
}

async function execute(o: BuildOptions, spec: BuildSpec, steps: PlanNode[], docs: Map<string, NodeDoc>, index: BuildIndex): Promise<number> {
  const store = await OciLayout.open(blobStoreDir(o.paths), { create: true, paramName: 'stacker-dir store' });
  const output = await OciLayout.open(o.paths.ociDir, { create: true });
  const results = new Map<string, NodeResult>();
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const buildId = index.startBuild({ argv: o.argv, toolVersion: '0.1.0' });
  const resultOf = (name: string): NodeResult => {
    const r = results.get(name);
    if (r === undefined) throw new Error(`bug: ${name} used before it was built`);
    return r;
  };
  // The build machinery (layer codec, mounts, sandbox) loads only when something must build.
  const ctx = steps.some((s) => s.state === 'build') ? await buildContext(o, store, resultOf, abort.signal) : undefined;

  try {
    for (const step of steps) {
      const layer = spec.layers.get(step.name)!;
      const file = spec.files.find((f) => f.path === layer.file)!;
      const { doc } = docs.get(step.name)!;
      if (step.state === 'cached') {
        const rec = index.lookup(step.key)!;
        results.set(step.name, fromRecord(rec));
        o.events.emit({ type: 'cache-hit', layer: step.name, key: step.key, manifest: rec.manifestDigest ?? undefined });
        index.recordBuildNode(buildId, { layer: step.name, status: 'cached', key: rec.key });
      } else {
        o.events.emit({ type: 'node-started', layer: step.name, reason: step.reason ?? '' });
        const t0 = Date.now();
        let r: NodeResult;
        try {
          r = await (await import('./build-node.js')).buildNode(ctx!, layer, file);
        } catch (e) {
          index.recordBuildNode(buildId, { layer: step.name, status: 'failed', key: step.key as never, reason: step.reason ?? '', durationMs: Date.now() - t0, inputDocument: canonicalJson(doc) });
          throw e;
        }
        results.set(step.name, r);
        index.recordNode(toRecord(step.key, step.name, canonicalJson(doc), r, layer.buildOnly));
        index.recordBuildNode(buildId, { layer: step.name, status: 'built', key: step.key as never, reason: step.reason ?? '', durationMs: Date.now() - t0 });
        o.events.emit({ type: 'node-built', layer: step.name, key: step.key, manifest: r.manifest.digest, seconds: (Date.now() - t0) / 1000 });
      }
      if (!layer.buildOnly) await retagOutput({ store, output, layer, file, result: results.get(step.name)!, namespace: o.annotationsNamespace });
    }
    index.finishBuild(buildId, 'success');
    // Like stacker: blobs no tag reaches any more leave the output layout (the store keeps them).
    await output.gc();
    return 0;
  } catch (e) {
    index.finishBuild(buildId, abort.signal.aborted ? 'interrupted' : 'failed');
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function buildContext(o: BuildOptions, store: OciLayout, resultOf: (name: string) => NodeResult, signal: AbortSignal): Promise<NodeBuildContext> {
  const [{ mountChain }, { unmount }, { OverlayStore, secureJoin }] = await Promise.all([
    import('./build-node.js'), import('../runtime/mount.js'), import('../storage/index.js'),
  ]);
  const overlay = new OverlayStore(o.paths.rootsDir);
  overlay.removeLeftovers();
  const ctx: NodeBuildContext = {
    cwd: o.paths.cwd, store, overlay, events: o.events,
    importsDir: (l) => importsDir(o.paths, l), downloadsDir: downloadsDir(o.paths), resultOf,
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
  };
  return ctx;
}
