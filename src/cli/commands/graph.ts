import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StackerError, type BuildSpec } from '../../core/index.js';
import { BuildIndex } from '../../cache/index.js';
import { loadBuildSpec } from '../../config/index.js';
import { resolveImageDigest } from '../../engine/base-image.js';
import { planBuild, type BuildOptions } from '../../engine/build.js';
import { fetchUrl } from '../../engine/fetch-url.js';
import { downloadsDir, type StackerPaths } from '../../engine/paths.js';
import { buildTolerantGraph, type TolerantGraph } from '../../graph/tolerant-graph.js';
import { externalBase, makeGraphView, type BaseStatus, type LayerStatus } from '../../graph/view.js';
import { renderGraphDot } from '../../report/graph-dot.js';
import { renderGraphHtml } from '../../report/graph-html.js';
import { renderGraphJson } from '../../report/graph-json.js';
import { renderGraphMermaid } from '../../report/graph-mermaid.js';
import { renderGraphSvg } from '../../report/graph-svg.js';
import { renderGraphTree } from '../../report/graph-tree.js';
import { bool, parse, str } from '../args.js';
import { loadOptionsFrom, pathsFrom } from './common.js';

const FORMATS = ['tree', 'dot', 'mermaid', 'json', 'svg', 'html'] as const;
type Format = (typeof FORMATS)[number];

const USAGE = `stacker graph [-f FILE] [--format tree|dot|mermaid|json|svg|html] [-o FILE]

   Every layer of the file and its prerequisites, every external base, the edges between them
   (built, import, tar, base, prerequisite) and each layer's state against the build index:
   cached (key and manifest), stale (would rebuild, and why), never built, unknown. Builds
   nothing, enters no namespace.

OPTIONS:
   -f, --stacker-file FILE    the stacker file (default stacker.yaml)
   --format F                 tree (default), dot, mermaid, json, svg, html (pan, zoom, search);
                              --json is --format json
   -o, --output FILE          write to FILE instead of standard output
   --substitute K=V           a substitution for \${{K}} (repeatable)
   --substitute-file FILE     substitutions from a YAML map
`;

const OPTIONS = {
  'stacker-file': { type: 'string', short: 'f' },
  format: { type: 'string' },
  output: { type: 'string', short: 'o' },
  substitute: { type: 'string', multiple: true },
  'substitute-file': { type: 'string' },
} as const;

/** `stacker graph`: the build graph and each node's state; no namespace, no build. */
export async function run(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, OPTIONS);
  if (bool(v, 'help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const format = (str(v, 'format') ?? (bool(v, 'json') ? 'json' : 'tree')) as Format;
  if (!FORMATS.includes(format)) {
    throw new StackerError('STACKER_E_USAGE', `unknown graph format: ${format}`, { hint: `formats: ${FORMATS.join(', ')}` });
  }
  const paths = pathsFrom(v);
  const { spec, warnings } = await loadBuildSpec(loadOptionsFrom(v, paths));
  if (!bool(v, 'quiet')) for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  const graph = buildTolerantGraph(spec);
  const states = await planStates(spec, graph, paths, process.env.SOURCE_DATE_EPOCH || undefined);
  const view = makeGraphView({ spec, graph, ...states, cwd: paths.cwd });
  const output = str(v, 'output');
  const color = output === undefined && process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  const text = render(format, view, color);
  if (output !== undefined) writeFileSync(resolve(paths.cwd, output), text);
  else process.stdout.write(text);
  return 0;
}

function render(format: Format, view: ReturnType<typeof makeGraphView>, color: boolean): string {
  switch (format) {
    case 'tree':
      return renderGraphTree(view, { color });
    case 'dot':
      return renderGraphDot(view);
    case 'mermaid':
      return renderGraphMermaid(view);
    case 'json':
      return renderGraphJson(view);
    case 'svg':
      return renderGraphSvg(view).svg;
    case 'html':
      return renderGraphHtml(view);
  }
}

type States = { layers: Map<string, LayerStatus>; bases: Map<string, BaseStatus> };

/**
 * Each layer's state from the planner (`planBuild`, as `build` plans: stat data, the index and
 * base digests). When it fails, the layers whose base (or URL import) cannot be resolved are
 * `unknown` with the error, as is everything downstream of them, and the rest is planned again.
 * Never started: a namespace or a build. Without an index yet, a throwaway one gives the keys.
 */
async function planStates(spec: BuildSpec, graph: TolerantGraph, paths: StackerPaths, sourceDateEpoch: string | undefined): Promise<States> {
  const layers = new Map<string, LayerStatus>();
  const bases = new Map<string, BaseStatus>();
  const unknown = (name: string, reason: string): void => void layers.set(name, { state: 'unknown', key: null, manifest: null, reason });
  for (const [name, why] of graph.blocked) unknown(name, why);
  const haveIndex = existsSync(join(paths.stackerDir, 'index.db'));
  const scratch = haveIndex ? undefined : mkdtempSync(join(tmpdir(), 'stacker-graph-'));
  const index = BuildIndex.open(scratch ?? paths.stackerDir);
  try {
    const opts: BuildOptions = {
      paths, load: { file: '', cwd: paths.cwd, substitutions: [], builtins: {} }, noCache: false, shellFail: false,
      annotationsNamespace: 'io.stackeroci', sourceDateEpoch, targets: [], argv: [], events: { emit: () => {} },
    };
    let todo = graph.order.filter((n) => !layers.has(n));
    let planned = await attempt(() => planBuild(opts, spec, todo, index));
    if (!planned.ok) {
      for (const [name, err] of await probeExternals(spec, todo, paths)) {
        unknown(name, err.message);
        if (err.base) bases.set(name, { digest: null, error: err.message });
      }
      for (const name of graph.order) {
        if (layers.has(name)) continue;
        const parent = graph.edges.find((e) => e.to === name && layers.get(e.from)?.state === 'unknown');
        if (parent !== undefined) unknown(name, `depends on ${parent.from}, which cannot be planned`);
      }
      todo = todo.filter((n) => !layers.has(n));
      planned = await attempt(() => planBuild(opts, spec, todo, index));
      if (!planned.ok) for (const n of todo) unknown(n, oneLine(planned.error));
    }
    if (planned.ok) {
      const { docs, steps } = planned.value;
      const records = index.lookupMany(steps.filter((s) => s.state === 'cached').map((s) => s.key));
      for (const s of steps) {
        const reason = s.reason ?? null;
        // Never built: no build of this layer name is recorded (whatever the reason's wording).
        const state = s.state === 'cached' ? 'cached' : index.latestForLayer(s.name) === undefined ? 'never_built' : 'stale';
        layers.set(s.name, { state, key: s.key, manifest: records.get(s.key)?.manifestDigest ?? null, reason });
        const base = docs.get(s.name)?.doc.base;
        if (base?.type === 'docker' || base?.type === 'oci') bases.set(s.name, { digest: base.manifest, error: null });
        else if (base?.type === 'tar' && !base.url.startsWith('stacker://')) bases.set(s.name, { digest: base.digest, error: null });
      }
    }
  } finally {
    index.close();
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  }
  return { layers, bases };
}

type Attempt<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function attempt<T>(fn: () => Promise<T>): Promise<Attempt<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

/** The layers whose base image, tarball URL or URL import cannot be resolved, one try per URL. */
async function probeExternals(spec: BuildSpec, names: string[], paths: StackerPaths): Promise<Map<string, { message: string; base: boolean }>> {
  const failed = new Map<string, { message: string; base: boolean }>();
  const tried = new Map<string, string | null>();
  const check = async (key: string, fn: () => Promise<unknown>): Promise<string | null> => {
    if (!tried.has(key)) tried.set(key, await fn().then(() => null, (e: unknown) => oneLine(e)));
    return tried.get(key)!;
  };
  for (const name of names) {
    const layer = spec.layers.get(name)!;
    const ext = externalBase(layer);
    let err: string | null = null;
    if (ext?.type === 'docker' || ext?.type === 'oci') {
      err = await check(`${ext.url} ${layer.os}/${layer.arch}`, () => resolveImageDigest(layer, paths.cwd));
    } else if (ext?.type === 'tar' && /^https?:\/\//.test(ext.url)) {
      err = await check(ext.url, () => fetchUrl(downloadsDir(paths), ext.url));
    }
    if (err !== null) {
      failed.set(name, { message: err, base: true });
      continue;
    }
    for (const imp of layer.imports) {
      if (imp.kind !== 'http' || imp.hash !== undefined) continue;
      const e = await check(imp.path, () => fetchUrl(downloadsDir(paths), imp.path));
      if (e !== null) {
        failed.set(name, { message: `import ${imp.rawPath}: ${e}`, base: false });
        break;
      }
    }
  }
  return failed;
}
