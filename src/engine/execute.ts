import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildSpec, Digest } from '../core/index.js';
import type { BuildIndex, NewBuildNode } from '../cache/index.js';
import { canonicalJson } from '../fingerprint/canonical.js';
import { OciLayout } from '../oci/layout.js';
import type { BuildOptions } from './build.js';
import type { NodeBuildContext } from './build-node.js';
import { fromRecord, toRecord } from './index-adapter.js';
import type { NodeDoc } from './inputs.js';
import type { NodeResult } from './node-result.js';
import { blobStoreDir, downloadsDir, importsDir } from './paths.js';
import type { PlanNode } from './plan.js';

export async function execute(o: BuildOptions, spec: BuildSpec, steps: PlanNode[], docs: Map<string, NodeDoc>, index: BuildIndex): Promise<number> {
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
