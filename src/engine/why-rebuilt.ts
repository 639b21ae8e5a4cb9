import { StackerError } from '../core/index.js';
import { BuildIndex } from '../cache/index.js';
import type { LoadOptions } from '../config/index.js';
import type { StackerPaths } from './paths.js';
import { explainBuild, findLastRebuild, type WhyReport } from './why-history.js';

export interface WhyOptions {
  paths: StackerPaths;
  /** How to load the stacker file (not needed with `build`). */
  load: LoadOptions;
  /** Layers to explain; empty: all. */
  layers: string[];
  /** `--build N`: explain that recorded build, without planning. */
  build?: number;
  sourceDateEpoch: string | undefined;
}

/**
 * `stacker why-rebuilt`: with `build`, what that build did and why (from the index alone).
 * Otherwise a dry run of the planner (stat data, the index, base digests; no namespace, no
 * process): the layers that would rebuild and why; when none would, the last build that rebuilt
 * any of them, and why.
 */
export async function whyRebuilt(o: WhyOptions): Promise<WhyReport> {
  if (o.build !== undefined) {
    const index = BuildIndex.open(o.paths.stackerDir);
    try {
      return await explainRecorded(index, o.build, o.layers, true);
    } finally {
      index.close();
    }
  }
  // Only a dry run needs the stacker file, the planner and registry access.
  const [{ loadBuildSpec }, { ancestorsAndSelf, buildLayerGraph }, { planBuild }] = await Promise.all([
    import('../config/index.js'), import('../graph/index.js'), import('./build.js'),
  ]);
  const { spec } = await loadBuildSpec(o.load);
  for (const l of o.layers) {
    if (!spec.layers.has(l)) {
      throw new StackerError('STACKER_E_UNKNOWN_LAYER', `no layer ${l} in ${o.load.file}`, { hint: `layers: ${[...spec.layers.keys()].join(', ')}` });
    }
  }
  const graph = buildLayerGraph(spec);
  const order = o.layers.length > 0 ? ancestorsAndSelf(graph, o.layers) : graph.order;
  const index = BuildIndex.open(o.paths.stackerDir);
  try {
    const { steps } = await planBuild({ paths: o.paths, sourceDateEpoch: o.sourceDateEpoch, noCache: false }, spec, order, index);
    const shown = steps.filter((s) => o.layers.length === 0 || o.layers.includes(s.name));
    if (shown.some((s) => s.state === 'build')) {
      return {
        mode: 'dry-run',
        build: null,
        upToDate: false,
        layers: shown.map((s) => ({
          layer: s.name,
          state: s.state === 'build' ? 'would-rebuild' : 'cached',
          key: s.key,
          prevKey: s.prevKey ?? null,
          reason: s.reason ?? null,
          reasons: s.reasons ?? [],
          durationMs: null,
        })),
      };
    }
    const last = findLastRebuild(index, o.layers);
    if (last === undefined) return { mode: 'none', build: null, upToDate: true, layers: [] };
    return { ...(await explainRecorded(index, last, o.layers, false)), upToDate: true };
  } finally {
    index.close();
  }
}

async function explainRecorded(index: BuildIndex, id: number, layers: string[], strict: boolean): Promise<WhyReport> {
  const r = await explainBuild(index, id, layers);
  if (r === undefined) {
    const recent = index.listBuilds(5).map((b) => b.id);
    throw new StackerError('STACKER_E_NO_SUCH_BUILD', `no build ${id} in the history of ${index.path}`, {
      hint: recent.length > 0 ? `recent builds: ${recent.join(', ')} (see \`stacker history\`)` : 'nothing has been built with this stacker dir yet',
    });
  }
  const missing = layers.filter((l) => !r.layers.some((n) => n.layer === l));
  if (strict && missing.length > 0) {
    throw new StackerError('STACKER_E_UNKNOWN_LAYER', `build ${id} did not consider ${missing.join(', ')}`, {
      hint: `its layers: ${index.buildNodes(id).map((n) => n.layer).join(', ') || '(none)'}`,
    });
  }
  return r;
}
