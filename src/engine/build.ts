import { closeSync, readFileSync } from 'node:fs';
import { mark, processStartedAt } from '../core/trace.js';
import { StackerError, type BuildSpec, type EventSink } from '../core/index.js';
import { BuildIndex } from '../cache/index.js';
import { loadBuildSpec, type LoadOptions } from '../config/index.js';
import { StatCacheView } from '../fingerprint/stat-cache.js';
import { digestInput, packEntries, unpackEntries, type TreeEntry } from '../fingerprint/tree-digest.js';
import { ancestorsAndSelf, buildLayerGraph } from '../graph/index.js';
import type { InputDocument } from './input-document.js';
import { computeDocuments, type NodeDoc } from './inputs.js';
import { acquireLock, adoptLock } from './lock.js';
import { downloadsDir, type StackerPaths } from './paths.js';
import type { StampOptions } from './noop-stamp.js';
import { plan, type PlanNode } from './plan.js';

export interface BuildOptions {
  paths: StackerPaths;
  load: LoadOptions;
  noCache: boolean;
  shellFail: boolean;
  annotationsNamespace: string;
  sourceDateEpoch: string | undefined;
  targets: string[];
  /** Layers built at once (default: the number of cores); 1 with --shell-fail. */
  jobs?: number;
  /** Print the order in which the files would build, and stop (`--order-only`). */
  orderOnly?: boolean;
  /** argv of this CLI invocation, to re-execute it inside the build namespace. */
  argv: string[];
  /**
   * Become the builder (execve, same pid) rather than start it and wait: for `build`, whose
   * process has nothing left to do once its one file is handed over (not `recursive-build`).
   */
  replaceProcess?: boolean;
  events: EventSink;
  /** Write a no-op stamp (noop-stamp.ts) after a build that found everything cached. */
  noopStamp?: Omit<StampOptions, 'cwd' | 'stackerDir' | 'ociDir' | 'substituteFile'>;
}

const LOCK_ENV = 'STACKER_LOCK_HELD_BY';
/** Set for the builder: the fd it reads the plan from. */
const PLAN_ENV = 'STACKER_PLAN_FD';
/** Set for the builder: when the planner started (ms since the epoch), for the build's duration. */
export const STARTED_ENV = 'STACKER_STARTED_AT';

export interface Planned {
  docs: Map<string, NodeDoc>;
  steps: PlanNode[];
  /** Listings of the local inputs walked while planning, by digest (owners zeroed, as keyed). */
  trees?: Map<string, TreeEntry[]>;
  /** The path of each local input digested while planning, by digest. */
  sources?: Map<string, string>;
}

/**
 * Whether this is the process re-executed inside the build namespace. Only that one has a plan
 * handed over, so the runtime module (and node:child_process) loads only there, or to re-execute.
 */
async function inBuildNamespace(): Promise<boolean> {
  return process.env[PLAN_ENV] !== undefined && (await import('../runtime/userns.js')).inBuildNamespace();
}

/**
 * The plan handed over (read to its end: the planner has written all of it), then closed: the
 * fd is inheritable, and run steps must not see other layers' input documents.
 */
function readHandedPlan(): Planned {
  const fd = Number(process.env[PLAN_ENV]);
  const data = JSON.parse(readFileSync(fd, 'utf8')) as { docs: [string, NodeDoc][]; steps: PlanNode[] };
  closeSync(fd);
  return { docs: new Map(data.docs), steps: data.steps };
}

/**
 * Re-executes this CLI inside the build namespaces and hands it the plan: the builder then uses
 * the same keys without hashing or asking registries again, and no plan file is left behind by a
 * killed build. With `replaceProcess`, this process becomes the builder (execve through
 * `unshare`, same pid, the lock passed on) and reads the plan from a memory file; otherwise the
 * builder is a child reading it from a pipe, and this resolves with its exit code.
 */
async function handToBuilder(o: BuildOptions, { docs, steps }: Planned): Promise<number> {
  const userns = await import('../runtime/ns-process.js');
  const plan = JSON.stringify({ docs: [...docs], steps });
  const env = { [LOCK_ENV]: String(process.pid), [STARTED_ENV]: String(processStartedAt()) };
  if (o.replaceProcess === true) {
    const { native } = await import('../oci/layer/native.js');
    mark('builder: exec');
    // bin/stacker.js saves its code cache on this, as it would have at exit.
    (process as NodeJS.EventEmitter).emit('stacker:exec');
    userns.execInNamespace(o.argv, { ...env, [PLAN_ENV]: String(native().memfdWith(Buffer.from(plan))) });
  }
  mark('builder: spawn');
  const child = userns.startInNamespace(o.argv, { pipe: true, env: { ...env, [PLAN_ENV]: '3' } });
  child.input!.end(plan);
  return child.exit.finally(() => mark('builder: exited'));
}

/**
 * Input documents, keys and the plan: stat data, the index and base digests; no namespace. Each
 * node that would build carries its reasons (why.ts): every input that differs from the layer's
 * last recorded build, with the files of directory imports that changed and the root cause of a
 * parent's change. Writes nothing but stat cache rows.
 */
export async function planBuild(o: Pick<BuildOptions, 'paths' | 'sourceDateEpoch' | 'noCache'> & Partial<BuildOptions>, spec: BuildSpec, order: string[], index: BuildIndex): Promise<Planned> {
  // Rows of files load only if a file must be looked up: not when every directory import matches
  // its tree stamp (and file imports are few).
  const statView = new StatCacheView(() => index.loadStatCache(), { trees: index.loadTreeStamps() });
  const trees = new Map<string, TreeEntry[]>();
  const sources = new Map<string, string>();
  const docs = await computeDocuments(spec, order, {
    // Loaded on use: the registry client is not needed for files without docker/oci bases.
    resolveImage: async (layer) => (await import('./base-digest.js')).resolveImageDigest(layer, o.paths.cwd),
    digestLocal: (p) => {
      // Owners are not part of the digest (imports are copied by the namespace's root), nor of
      // the listing: a listing is a function of its digest.
      const d = digestInput(p, statView, { ownership: false });
      if (d.entries !== undefined && !trees.has(d.digest)) trees.set(d.digest, d.entries);
      sources.set(d.digest, p);
      return d.digest;
    },
    digestUrl: async (url) => (await (await import('./fetch-url.js')).fetchUrl(downloadsDir(o.paths), url)).digest,
  }, { sourceDateEpoch: o.sourceDateEpoch });
  mark('docs');
  index.saveStatCache(statView.changedRows());
  index.saveTreeStamps(statView.changedTrees());
  const known = index.knownKeys([...docs.values()].map((d) => d.key));
  const previous = new Map<string, InputDocument>();
  const previousKeys = new Map<string, string>();
  for (const name of order) {
    if (known.has(docs.get(name)!.key)) continue;
    const rec = index.latestForLayer(name);
    if (rec === undefined) continue;
    previous.set(name, JSON.parse(rec.inputDocument) as InputDocument);
    previousKeys.set(name, rec.key);
  }
  mark('previous');
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
  return { docs, steps, trees, sources };
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
      if (index.getTree(d) !== undefined) continue;
      const entries = planned.trees.get(d) ?? listing(index, planned.sources?.get(d), d);
      if (entries !== undefined) index.putTree(d, packEntries(entries));
    }
  }
}

/**
 * The listing of a directory whose digest came from its tree stamp (no listing made), by walking
 * it again, if it still has that digest.
 */
function listing(index: BuildIndex, path: string | undefined, digest: string): TreeEntry[] | undefined {
  if (path === undefined) return undefined;
  const d = digestInput(path, new StatCacheView(() => index.loadStatCache()), { ownership: false });
  return d.digest === digest ? d.entries : undefined;
}

/** `stacker build`: plan outside any namespace; enter one only when something must build. */
export async function runBuild(options: BuildOptions): Promise<number> {
  let o = options;
  const namespaced = await inBuildNamespace();
  // A no-op's stamp replays its output: only a run that printed nothing but its hits gets one.
  let logged = false;
  if (o.noopStamp !== undefined && !namespaced) {
    const events = o.events;
    o = { ...o, events: { emit: (ev) => { if (ev.type === 'log') logged = true; events.emit(ev); } } };
  }
  // A builder that was the planner (same pid) holds the planner's lock and releases it, whatever
  // ends it: nobody is left waiting to.
  const adopted = namespaced && process.env[LOCK_ENV] === String(process.pid) ? adoptLock(o.paths.stackerDir) : undefined;
  if (adopted !== undefined) process.once('exit', adopted);
  const handed = namespaced ? readHandedPlan() : undefined;
  mark('spec: start');
  const { spec, warnings } = await loadBuildSpec(o.load);
  mark('spec: loaded');
  // The planner outside has said these already.
  if (!namespaced) for (const w of warnings) o.events.emit({ type: 'log', level: 'warn', message: w });
  if (o.orderOnly) {
    spec.files.forEach((f, i) => o.events.emit({ type: 'log', level: 'info', message: `${i} build ${f.path}: requires: [${f.prerequisites.join(' ')}]` }));
    return 0;
  }
  const graph = buildLayerGraph(spec);
  mark('graph');
  const order = o.targets.length > 0 ? ancestorsAndSelf(graph, checkTargets(spec, o.targets)) : graph.order;

  // A builder's lock is the planner's: this very process before it became the builder (adopted
  // above), or a parent waiting for it (which releases it).
  const inherited = process.env[LOCK_ENV] !== undefined && namespaced;
  const release = adopted ?? (inherited ? () => {} : await acquireLock(o.paths.stackerDir, {
    wait: true,
    onWait: (h) => o.events.emit({ type: 'log', level: 'info', message: `waiting for the lock on ${o.paths.stackerDir}, held by pid ${h.pid} (${h.cmd})` }),
  }));
  let index: BuildIndex | undefined;
  let sandboxes: typeof import('../runtime/ns-sandbox.js') | undefined;
  try {
    // Inside the namespace, use the plan the outer process made: the same keys, no second
    // round of hashing and registry requests (and file owners read the same as outside).
    mark('locked');
    index = BuildIndex.open(o.paths.stackerDir);
    mark('index open');
    const planned = handed ?? await planBuild(o, spec, order, index);
    const { docs, steps } = planned;
    mark('planned');
    if (handed === undefined) storeTrees(index, planned);
    mark('trees stored');
    let outside = false;
    if (steps.some((s) => s.state === 'build') && !namespaced) {
      const [{ outsideEligible }, { OverlayStore }] = await Promise.all([import('./outside.js'), import('../storage/index.js')]);
      mark('outside loaded');
      outside = outsideEligible(spec, steps, index, new OverlayStore(o.paths.rootsDir), o.shellFail);
      mark(outside ? 'building here' : 'building inside');
      // The first run step's namespace is entered while the build gets there.
      const runs = steps.filter((s) => s.state === 'build' && spec.layers.get(s.name)!.run.length > 0).length;
      if (outside && runs > 0) {
        sandboxes = await import('../runtime/ns-sandbox.js');
        sandboxes.prewarmSandbox(runs);
      }
      if (!outside) {
        // A process about to become the builder leaves the index open: closing would checkpoint
        // the WAL (~6 ms), and the exec closes its files as a crash would, which WAL mode is made for.
        if (o.replaceProcess !== true) index.close();
        return await handToBuilder(o, planned);
      }
    }
    // bin/stacker.js keeps the build machinery in the code cache of `build` once it ran here.
    if (outside) (process as NodeJS.EventEmitter).emit('stacker:built-here');
    const code = await (await import('./execute.js')).execute(o, spec, steps, docs, index, outside);
    if (o.noopStamp !== undefined && !namespaced && code === 0 && !logged && warnings.length === 0) {
      const { writeNoopStamp } = await import('./noop-stamp.js');
      const { substituteFile } = o.load;
      writeNoopStamp({ ...o.noopStamp, cwd: o.paths.cwd, stackerDir: o.paths.stackerDir, ociDir: o.paths.ociDir, ...(substituteFile !== undefined ? { substituteFile } : {}) }, spec, steps);
    }
    return code;
  } finally {
    mark('closing');
    index?.close();
    mark('index closed');
    release();
    sandboxes?.discardSandbox();
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
