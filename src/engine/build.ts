import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StackerError, type BuildSpec, type Digest, type EventSink } from '../core/index.js';
import { BuildIndex, type NewBuildNode } from '../cache/index.js';
import { loadBuildSpec, type LoadOptions } from '../config/index.js';
import { canonicalJson } from '../fingerprint/canonical.js';
import { StatCacheView } from '../fingerprint/stat-cache.js';
import { digestInput, packEntries, unpackEntries, type TreeEntry } from '../fingerprint/tree-digest.js';
import { ancestorsAndSelf, buildLayerGraph } from '../graph/index.js';
import { OciLayout } from '../oci/layout.js';
import { inBuildNamespace, reexecInNamespace } from '../runtime/userns.js';
import type { NodeBuildContext } from './build-node.js';
import { fetchUrl } from './fetch-url.js';
import { fromRecord, toRecord } from './index-adapter.js';
import type { InputDocument } from './input-document.js';
import { computeDocuments, type NodeDoc } from './inputs.js';
import { acquireLock } from './lock.js';
import type { NodeResult } from './node-result.js';
import { blobStoreDir, downloadsDir, importsDir, type StackerPaths } from './paths.js';
import { plan, type PlanNode } from './plan.js';

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

export interface Planned {
  docs: Map<string, NodeDoc>;
  steps: PlanNode[];
  /** Listings of the local inputs walked while planning, by digest (owners zeroed, as keyed). */
  trees?: Map<string, TreeEntry[]>;
}

function readHandedPlan(): Planned | undefined {
  const f = process.env[PLAN_ENV];
  if (f === undefined) return undefined;
  const data = JSON.parse(readFileSync(f, 'utf8')) as { docs: [string, NodeDoc][]; steps: PlanNode[] };
  return { docs: new Map(data.docs), steps: data.steps };
}

/**
 * Input documents, keys and the plan: stat data, the index and base digests; no namespace. Each
 * node that would build carries its reasons (why.ts): every input that differs from the layer's
 * last recorded build, with the files of directory imports that changed and the root cause of a
 * parent's change. Writes nothing but stat cache rows.
 */
export async function planBuild(o: Pick<BuildOptions, 'paths' | 'sourceDateEpoch' | 'noCache'> & Partial<BuildOptions>, spec: BuildSpec, order: string[], index: BuildIndex): Promise<Planned> {
  const statView = new StatCacheView(index.loadStatCache());
  const trees = new Map<string, TreeEntry[]>();
  const docs = await computeDocuments(spec, order, {
    // Loaded on use: the registry client is not needed for files without docker/oci bases.
    resolveImage: async (layer) => (await import('./base-image.js')).resolveImageDigest(layer, o.paths.cwd),
    digestLocal: (p) => {
      const d = digestInput(p, statView, { ownership: false });
      // Owners are not part of the digest (imports are copied by the namespace's root): leave
      // them out of the listing too, so a listing is a function of its digest.
      if (d.entries !== undefined && !trees.has(d.digest)) trees.set(d.digest, d.entries.map((e) => ({ ...e, uid: 0, gid: 0 })));
      return d.digest;
    },
    digestUrl: async (url) => (await fetchUrl(downloadsDir(o.paths), url)).digest,
  }, { sourceDateEpoch: o.sourceDateEpoch });
  index.saveStatCache(statView.changedRows());
  const known = new Set(index.lookupMany([...docs.values()].map((d) => d.key)).keys());
  const previous = new Map<string, InputDocument>();
  const previousKeys = new Map<string, string>();
  for (const name of order) {
    if (known.has(docs.get(name)!.key)) continue;
    const rec = index.latestForLayer(name);
    if (rec === undefined) continue;
    previous.set(name, JSON.parse(rec.inputDocument) as InputDocument);
    previousKeys.set(name, rec.key);
  }
  const parsed = new Map<string, InputDocument | undefined>();
  const steps = plan({
    order, docs, known, previous, previousKeys, noCache: o.noCache,
    documentOf: (key) => {
      if (!parsed.has(key)) {
        const d = index.getDocument(key);
        parsed.set(key, d === undefined ? undefined : (JSON.parse(d.doc) as InputDocument));
      }
      return parsed.get(key);
    },
    treeOf: (digest) => {
      const t = trees.get(digest);
      if (t !== undefined) return t;
      const packed = index.getTree(digest);
      return packed === undefined ? undefined : unpackEntries(packed);
    },
  });
  return { docs, steps, trees };
}

/** Records the listings of the local inputs of the nodes about to build, so a later build can name the files that changed. */
function storeTrees(index: BuildIndex, planned: Planned): void {
  if (planned.trees === undefined) return;
  for (const step of planned.steps) {
    if (step.state !== 'build') continue;
    const { doc } = planned.docs.get(step.name)!;
    const digests = [...doc.imports.map((i) => i.digest), ...doc.overlayDirs.map((d) => d.digest)];
    if (doc.base.type === 'tar') digests.push(doc.base.digest);
    for (const d of digests) {
      const entries = planned.trees.get(d);
      if (entries !== undefined && index.getTree(d) === undefined) index.putTree(d, packEntries(entries));
    }
  }
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
    const planned = handed ?? await planBuild(o, spec, order, index);
    const { docs, steps } = planned;
    if (handed === undefined) storeTrees(index, planned);
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
  const t0Build = Date.now();
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
  for (const step of steps) {
    index.recordBuildNode(buildId, step.state === 'build' ? { ...row(step), inputDocument: canonicalJson(docs.get(step.name)!.doc) } : row(step));
  }
  // Loaded here, not at the top: planning alone (why-rebuilt, publish) does not tag outputs.
  const { retagOutput } = await import('./output.js');
  const counts = { built: 0, cached: 0, failed: 0 };
  const summary = (): Record<string, number> => ({ ...counts, notRun: steps.length - counts.built - counts.cached - counts.failed, durationMs: Date.now() - t0Build });
  const resultOf = (name: string): NodeResult => {
    const r = results.get(name);
    if (r === undefined) throw new Error(`bug: ${name} used before it was built`);
    return r;
  };

  try {
    // The build machinery (layer codec, mounts, sandbox) loads only when something must build.
    const ctx = steps.some((s) => s.state === 'build') ? await buildContext(o, store, resultOf, abort.signal) : undefined;
    for (const step of steps) {
      const layer = spec.layers.get(step.name)!;
      const file = spec.files.find((f) => f.path === layer.file)!;
      const { doc } = docs.get(step.name)!;
      if (step.state === 'cached') {
        const rec = index.lookup(step.key)!;
        results.set(step.name, fromRecord(rec));
        counts.cached++;
        o.events.emit({ type: 'cache-hit', layer: step.name, key: step.key, manifest: rec.manifestDigest ?? undefined });
      } else {
        o.events.emit({ type: 'node-started', layer: step.name, reason: step.reason ?? '' });
        const t0 = Date.now();
        let r: NodeResult;
        try {
          const planned = doc.base.type === 'docker' ? doc.base.manifest : undefined;
          r = await (await import('./build-node.js')).buildNode(ctx!, layer, file, planned);
        } catch (e) {
          counts.failed++;
          index.recordBuildNode(buildId, { ...row(step), status: 'failed', durationMs: Date.now() - t0 });
          throw e;
        }
        results.set(step.name, r);
        index.recordNode(toRecord(step.key, step.name, canonicalJson(doc), r, layer.buildOnly));
        counts.built++;
        index.recordBuildNode(buildId, { ...row(step), status: 'built', durationMs: Date.now() - t0 });
        o.events.emit({ type: 'node-built', layer: step.name, key: step.key, manifest: r.manifest.digest, seconds: (Date.now() - t0) / 1000 });
      }
      if (!layer.buildOnly) await retagOutput({ store, output, layer, file, result: results.get(step.name)!, namespace: o.annotationsNamespace });
    }
    index.finishBuild(buildId, 'success', summary());
    // Like stacker: blobs no tag reaches any more leave the output layout (the store keeps them).
    await output.gc();
    return 0;
  } catch (e) {
    index.finishBuild(buildId, abort.signal.aborted ? 'interrupted' : 'failed', summary());
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
