/**
 * The model behind test/e2e/invalidation.test.ts: what a stacker project's inputs are, which
 * layers a given state of them would rebuild, and a seeded PRNG to mutate them.
 *
 * The model knows nothing of stacker's hashing. A layer's "own" inputs are its stacker.yaml
 * fields (base, imports, run, environment, labels, build_only) and, for every local import, the
 * listing of the imported tree: path, type, permission bits, content (files) and target
 * (symlinks); never times or owners. A layer's key is a hash of its own inputs and its parents'
 * keys (built parent, `stacker://` imports, `from: tar stacker://`), so a change anywhere reaches
 * every descendant. What is built is the set of keys ever built: a state rebuilds exactly the
 * layers whose model key is not in that set.
 */
import { createHash } from 'node:crypto';
import { appendFile, chmod, lchown, lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';

/** mulberry32: small, fast, and the same sequence for a seed on every machine. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('Rng.pick: empty list');
    return xs[this.int(xs.length)]!;
  }
  /** A lowercase word of `n` letters and digits. */
  word(n = 6): string {
    const abc = 'abcdefghijklmnopqrstuvwxyz0123456789';
    let s = '';
    for (let i = 0; i < n; i++) s += abc[this.int(abc.length)];
    return s;
  }
  /** `n` random bytes (any value, newlines and NULs included). */
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** A fresh seed for a child generator (e.g. a rendering style). */
  seed(): number {
    return this.int(0x7fffffff);
  }
}

export type FsNode =
  | { type: 'file'; content: Buffer; mode: number }
  | { type: 'dir'; mode: number }
  | { type: 'symlink'; target: string };

export type ImportModel = { kind: 'local'; path: string; dest?: string } | { kind: 'stacker'; url: string };

export interface LayerModel {
  name: string;
  /** `from:` as written (a flow mapping's body: `type: oci, url: base/oci:busybox`). */
  from: Array<[string, string]>;
  buildOnly: boolean;
  imports: ImportModel[];
  /** Run text (each line; rendered as a `|` block), or none. */
  run: string[] | null;
  env: Record<string, string>;
  labels: Record<string, string>;
}

export interface ProjectModel {
  /** Project-relative posix paths of every entry under an import root, and of unrelated files. */
  fs: Map<string, FsNode>;
  layers: LayerModel[];
  /** Seed of the rendering style: comments, blank lines, indentation, quoting, key order. */
  style: number;
}

export function cloneLayers(layers: readonly LayerModel[]): LayerModel[] {
  return layers.map((l) => ({
    ...l,
    from: l.from.map(([k, v]) => [k, v] as [string, string]),
    imports: l.imports.map((i) => ({ ...i })),
    run: l.run === null ? null : [...l.run],
    env: { ...l.env },
    labels: { ...l.labels },
  }));
}

/** The layer names a layer depends on: built parent, tar source, stacker:// imports. */
export function parentsOf(l: LayerModel): string[] {
  const out = new Set<string>();
  const from = new Map(l.from);
  if (from.get('type') === 'built') out.add(from.get('tag')!);
  const url = from.get('url') ?? '';
  if (from.get('type') === 'tar' && url.startsWith('stacker://')) out.add(url.slice(10).split('/')[0]!);
  for (const i of l.imports) if (i.kind === 'stacker') out.add(i.url.slice(10).split('/')[0]!);
  return [...out].sort();
}

/** The local import roots (normalized: no trailing slash) of a layer. */
export function localImports(l: LayerModel): string[] {
  return l.imports.flatMap((i) => (i.kind === 'local' ? [i.path.replace(/\/+$/, '')] : []));
}

/** Whether `path` is `root` or inside it. */
export function within(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

/** The listing of the input at `root`, as the model sees it: no times, no owners. */
export function listing(fs: ReadonlyMap<string, FsNode>, root: string): string[] {
  const out: string[] = [];
  for (const [p, n] of fs) {
    if (!within(p, root)) continue;
    const rel = p === root ? '.' : p.slice(root.length + 1);
    if (n.type === 'file') out.push(`${rel}\0file\0${n.mode.toString(8)}\0${createHash('sha256').update(n.content).digest('hex')}`);
    else if (n.type === 'dir') out.push(`${rel}\0dir\0${n.mode.toString(8)}`);
    else out.push(`${rel}\0symlink\0${n.target}`);
  }
  if (out.length === 0) throw new Error(`model: import ${root} is missing`);
  return out.sort();
}

function sortedEntries(o: Record<string, string>): Array<[string, string]> {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A layer's own inputs, as one string. */
export function ownSignature(m: ProjectModel, l: LayerModel): string {
  return JSON.stringify({
    from: l.from,
    buildOnly: l.buildOnly,
    imports: l.imports.map((i) => (i.kind === 'local' ? { path: i.path, dest: i.dest ?? null, tree: listing(m.fs, i.path.replace(/\/+$/, '')) } : { url: i.url })),
    run: l.run,
    env: sortedEntries(l.env),
    labels: sortedEntries(l.labels),
  });
}

/** Every layer's model key: own inputs plus parents' keys. */
export function modelKeys(m: ProjectModel): Map<string, string> {
  const keys = new Map<string, string>();
  const byName = new Map(m.layers.map((l) => [l.name, l]));
  const keyOf = (name: string, seen: string[] = []): string => {
    const known = keys.get(name);
    if (known !== undefined) return known;
    if (seen.includes(name)) throw new Error(`model: cycle through ${name}`);
    const l = byName.get(name);
    if (l === undefined) throw new Error(`model: no layer ${name}`);
    const parents = parentsOf(l).map((p) => [p, keyOf(p, [...seen, name])]);
    const k = createHash('sha256').update(JSON.stringify({ own: ownSignature(m, l), parents })).digest('hex');
    keys.set(name, k);
    return k;
  };
  for (const l of m.layers) keyOf(l.name);
  return keys;
}

/** The layers whose key is not among those built: what the next build must rebuild. */
export function expectedRebuilds(m: ProjectModel, built: ReadonlySet<string>): string[] {
  const keys = modelKeys(m);
  return m.layers.map((l) => l.name).filter((n) => !built.has(keys.get(n)!)).sort();
}

/** `names` and everything that depends on them, directly or not. */
export function withDescendants(layers: readonly LayerModel[], names: Iterable<string>): Set<string> {
  const out = new Set(names);
  for (let grew = true; grew; ) {
    grew = false;
    for (const l of layers) {
      if (!out.has(l.name) && parentsOf(l).some((p) => out.has(p))) {
        out.add(l.name);
        grew = true;
      }
    }
  }
  return out;
}

// ---- rendering ----

/**
 * stacker.yaml for the layers, in a style drawn from `style`: comment lines, blank lines,
 * indentation width, quote characters, flow or block `from`, and the order of environment and
 * label keys all vary; what they mean does not (the test checks that by parsing).
 */
export function renderYaml(layers: readonly LayerModel[], style: number): string {
  const r = new Rng(style);
  const ind = r.pick(['  ', '    ']);
  const q = r.pick(['"', "'"]);
  const comment = (depth: string): string[] => (r.chance(0.25) ? [`${depth}# ${r.pick(['note', 'todo', 'see below', 'keep'])} ${r.word(4)}`] : []);
  const blank = (): string[] => (r.chance(0.3) ? [''] : []);
  const trail = (): string => (r.chance(0.2) ? ' '.repeat(1 + r.int(3)) : '');
  const shuffled = (o: Record<string, string>): Array<[string, string]> => {
    const e = Object.entries(o);
    for (let i = e.length - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [e[i], e[j]] = [e[j]!, e[i]!];
    }
    return e;
  };
  const out: string[] = r.chance(0.5) ? [`# stacker file, style ${style}`, ''] : [];
  for (const l of layers) {
    out.push(...blank(), ...comment(''), `${l.name}:${trail()}`);
    const i1 = ind;
    const i2 = ind + ind;
    out.push(...comment(i1));
    if (r.chance(0.5)) out.push(`${i1}from: {${l.from.map(([k, v]) => `${k}: ${v}`).join(', ')}}${trail()}`);
    else out.push(`${i1}from:`, ...l.from.map(([k, v]) => `${i2}${k}: ${v}${trail()}`));
    if (l.buildOnly) out.push(`${i1}build_only: true${trail()}`);
    if (l.imports.length > 0) {
      out.push(`${i1}imports:`, ...comment(i2));
      for (const imp of l.imports) {
        if (imp.kind === 'stacker') out.push(`${i2}- ${imp.url}${trail()}`);
        else if (imp.dest === undefined) out.push(`${i2}- ${r.chance(0.3) ? `path: ${imp.path}` : imp.path}${trail()}`);
        else out.push(`${i2}- path: ${imp.path}`, `${i2}  dest: ${imp.dest}${trail()}`);
      }
    }
    for (const [key, map] of [['environment', l.env], ['labels', l.labels]] as const) {
      const e = shuffled(map);
      if (e.length === 0) continue;
      if (r.chance(0.3)) out.push(`${i1}${key}: {${e.map(([k, v]) => `${k}: ${q}${v}${q}`).join(', ')}}`);
      else out.push(`${i1}${key}:`, ...e.map(([k, v]) => `${i2}${k}: ${q}${v}${q}${trail()}`));
    }
    if (l.run !== null) {
      out.push(...comment(i1), `${i1}run: |`, ...l.run.map((line) => `${i2}${line}`));
      // A comment less indented than the block ends it and is not part of the run text.
      if (r.chance(0.2)) out.push(`# after ${l.name}`);
    }
  }
  out.push(...blank());
  return `${out.join('\n')}\n`;
}

/** The meaning of the rendered file, for checking that every style says the same. */
export function semanticYaml(layers: readonly LayerModel[]): unknown {
  const out: Record<string, unknown> = {};
  for (const l of layers) {
    const o: Record<string, unknown> = { from: Object.fromEntries(l.from) };
    if (l.buildOnly) o.build_only = true;
    if (l.imports.length > 0) o.imports = l.imports.map((i) => (i.kind === 'stacker' ? i.url : i.dest === undefined ? i.path : { path: i.path, dest: i.dest }));
    if (Object.keys(l.env).length > 0) o.environment = { ...l.env };
    if (Object.keys(l.labels).length > 0) o.labels = { ...l.labels };
    if (l.run !== null) o.run = `${l.run.join('\n')}\n`;
    out[l.name] = o;
  }
  return normalizeParsed(out);
}

/** A parsed stacker.yaml with `- x` and `- path: x` imports made the same (as stacker reads them). */
export function normalizeParsed(doc: unknown): unknown {
  if (typeof doc !== 'object' || doc === null) return doc;
  const out: Record<string, unknown> = {};
  for (const [name, layer] of Object.entries(doc as Record<string, Record<string, unknown>>)) {
    const imports = layer.imports as unknown[] | undefined;
    out[name] = imports === undefined ? layer : { ...layer, imports: imports.map((i) => (typeof i === 'string' ? { path: i } : i)) };
  }
  return out;
}

// ---- the project on disk, kept equal to the model ----

/** Permission bits the mutations choose from (the owner can always read; directories stay searchable). */
export const FILE_MODES = [0o644, 0o755, 0o600, 0o640, 0o664, 0o700, 0o444, 0o750, 0o4755, 0o2755];
export const DIR_MODES = [0o755, 0o750, 0o700, 0o775, 0o711, 0o1777, 0o2775];

export interface WorkspaceHooks {
  /** Runs a command as the project's owner (for `touch`). */
  runAsOwner(cmd: string, args: string[]): Promise<void>;
  /** Runs a command as this process (for `touch -r` with full ns precision). */
  run(cmd: string, args: string[]): Promise<void>;
  /** Validates a rendered stacker.yaml against the model (throws on a rendering bug). */
  checkYaml(text: string, layers: readonly LayerModel[]): void;
}

/**
 * The project directory and its model, changed together. Every change made here is made to
 * both; `restore` puts back a snapshot of some paths, so any mutation can be undone.
 */
export class Workspace {
  constructor(
    readonly dir: string,
    readonly m: ProjectModel,
    private readonly owner: { uid: number; gid: number } | undefined,
    private readonly hooks: WorkspaceHooks,
  ) {}

  abs(rel: string): string {
    return `${this.dir}/${rel}`;
  }

  private async own(rel: string): Promise<void> {
    if (this.owner !== undefined) await lchown(this.abs(rel), this.owner.uid, this.owner.gid);
  }

  /** Writes the whole model to disk (the project is empty but for the base layout). */
  async materialize(): Promise<void> {
    for (const [p, n] of [...this.m.fs].sort(([a], [b]) => (a < b ? -1 : 1))) await this.create(p, n);
    for (const [p, n] of this.m.fs) if (n.type === 'dir') await this.chmodDisk(p, n.mode);
    await this.verify([...new Set([...this.m.fs.keys()].map((p) => p.split('/')[0]!))]);
    await this.writeYaml();
  }

  private async create(rel: string, n: FsNode): Promise<void> {
    const abs = this.abs(rel);
    if (n.type === 'dir') await mkdir(abs, { mode: 0o755 });
    else if (n.type === 'file') await writeFile(abs, n.content);
    else await symlink(n.target, abs);
    // Owner first: a chown clears the setuid and setgid bits that chmod sets.
    await this.own(rel);
    if (n.type === 'file') await chmod(abs, n.mode);
  }

  /** Throws if the disk under `roots` is not what the model says (a bug of this test, not of stacker). */
  async verify(roots: readonly string[]): Promise<void> {
    for (const root of roots) {
      const want = [...this.m.fs].filter(([p]) => within(p, root)).map(([p]) => p).sort();
      const have: string[] = [];
      const walk = async (rel: string): Promise<void> => {
        const st = await lstat(this.abs(rel)).catch(() => undefined);
        if (st === undefined) return;
        have.push(rel);
        const n = this.m.fs.get(rel);
        const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
        const bad = (what: string): never => {
          throw new Error(`workspace: ${rel} on disk differs from the model: ${what}`);
        };
        if (n === undefined) return bad('not in the model');
        if (n.type !== type) bad(`${type}, model ${n.type}`);
        if (n.type !== 'symlink' && (st.mode & 0o7777) !== n.mode) bad(`mode ${(st.mode & 0o7777).toString(8)}, model ${n.mode.toString(8)}`);
        if (n.type === 'symlink' && (await readlink(this.abs(rel))) !== n.target) bad('symlink target');
        if (n.type === 'file' && !(await readFile(this.abs(rel))).equals(n.content)) bad('content');
        if (type === 'dir') for (const name of (await readdir(this.abs(rel))).sort()) await walk(`${rel}/${name}`);
      };
      await walk(root);
      if (have.sort().join('\n') !== want.join('\n')) throw new Error(`workspace: entries under ${root} differ from the model: disk ${have.join(' ')}; model ${want.join(' ')}`);
    }
  }

  private async chmodDisk(rel: string, mode: number): Promise<void> {
    await chmod(this.abs(rel), mode);
  }

  async writeYaml(): Promise<void> {
    const text = renderYaml(this.m.layers, this.m.style);
    this.hooks.checkYaml(text, this.m.layers);
    await writeFile(this.abs('stacker.yaml'), text);
    await this.own('stacker.yaml');
  }

  /** The model entries at and under each of `roots`. */
  snapshot(roots: readonly string[]): Map<string, FsNode | undefined> {
    const snap = new Map<string, FsNode | undefined>();
    for (const r of roots) {
      snap.set(r, undefined);
      for (const [p, n] of this.m.fs) if (within(p, r)) snap.set(p, n.type === 'file' ? { ...n, content: Buffer.from(n.content) } : { ...n });
    }
    return snap;
  }

  /** Puts back what `snapshot(roots)` saw, on disk and in the model (times are not restored). */
  async restore(roots: readonly string[], snap: Map<string, FsNode | undefined>): Promise<void> {
    for (const r of roots) {
      await rm(this.abs(r), { recursive: true, force: true });
      for (const p of [...this.m.fs.keys()]) if (within(p, r)) this.m.fs.delete(p);
    }
    const entries = [...snap].filter((e): e is [string, FsNode] => e[1] !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [p, n] of entries) {
      await this.create(p, n);
      this.m.fs.set(p, n);
    }
    for (const [p, n] of entries) if (n.type === 'dir') await this.chmodDisk(p, n.mode);
  }

  // -- single changes, each made on disk and in the model --

  /** Rewrites a file in place (same inode); with `keepMtime`, its mtime is put back to the ns. */
  async rewrite(rel: string, content: Buffer, keepMtime: boolean): Promise<void> {
    const n = this.m.fs.get(rel);
    if (n?.type !== 'file') throw new Error(`model: ${rel} is not a file`);
    const ref = `${this.dir}/.mtime-ref`;
    if (keepMtime) await this.hooks.run('touch', ['-r', this.abs(rel), ref]);
    await writeFile(this.abs(rel), content);
    if (keepMtime) await this.hooks.run('touch', ['-r', ref, this.abs(rel)]);
    n.content = Buffer.from(content);
  }

  async append(rel: string, more: Buffer): Promise<void> {
    const n = this.m.fs.get(rel);
    if (n?.type !== 'file') throw new Error(`model: ${rel} is not a file`);
    await appendFile(this.abs(rel), more);
    n.content = Buffer.concat([n.content, more]);
  }

  async add(rel: string, n: FsNode): Promise<void> {
    await this.create(rel, n);
    if (n.type === 'dir') await this.chmodDisk(rel, n.mode);
    this.m.fs.set(rel, n);
  }

  async remove(rel: string): Promise<void> {
    await rm(this.abs(rel), { recursive: true });
    for (const p of [...this.m.fs.keys()]) if (within(p, rel)) this.m.fs.delete(p);
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(this.abs(from), this.abs(to));
    for (const [p, n] of [...this.m.fs]) {
      if (!within(p, from)) continue;
      this.m.fs.delete(p);
      this.m.fs.set(to + p.slice(from.length), n);
    }
  }

  async chmod(rel: string, mode: number): Promise<void> {
    const n = this.m.fs.get(rel);
    if (n === undefined || n.type === 'symlink') throw new Error(`model: cannot chmod ${rel}`);
    await this.chmodDisk(rel, mode);
    n.mode = mode;
  }

  /** `touch` (as the owner, `-h` for symlinks), now or at `date`: no input changes. */
  async touch(rel: string, date?: string): Promise<void> {
    const n = this.m.fs.get(rel);
    await this.hooks.runAsOwner('touch', [...(n?.type === 'symlink' ? ['-h'] : []), ...(date !== undefined ? ['-d', date] : []), this.abs(rel)]);
  }

  /** Replaces an entry by another one (a symlink's new target, a file turned symlink...). */
  async replace(rel: string, n: FsNode): Promise<void> {
    await this.remove(rel);
    await this.add(rel, n);
  }
}

// ---- mutations ----

/** One applied mutation: what it did, which layers' own inputs it touched, and how to undo it. */
export interface Applied {
  kind: MutationKind;
  what: string;
  /** Layers whose own inputs changed (empty for the ones that must rebuild nothing). */
  touched: string[];
  undo(): Promise<void>;
}

export const MUTATION_KINDS = [
  'content-same-size', 'append', 'resize', 'new-file', 'delete', 'rename', 'move-between-imports', 'chmod',
  'touch', 'touch-old', 'retarget-symlink', 'type-change', 'type-change-dir', 'unrelated-file', 'yaml-run', 'yaml-env',
  'yaml-label', 'yaml-import', 'yaml-shape', 'yaml-style',
] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

const WEIGHTS: Record<MutationKind, number> = {
  'content-same-size': 12, append: 5, resize: 3, 'new-file': 7, delete: 6, rename: 6, 'move-between-imports': 3,
  chmod: 7, touch: 5, 'touch-old': 5, 'retarget-symlink': 5, 'type-change': 3, 'type-change-dir': 2, 'unrelated-file': 3,
  'yaml-run': 5, 'yaml-env': 5, 'yaml-label': 4, 'yaml-import': 3, 'yaml-shape': 3, 'yaml-style': 5,
};

/** Every kind once, in a random order: so that any seed covers them all. */
export function shuffledKinds(r: Rng): MutationKind[] {
  const ks = [...MUTATION_KINDS];
  for (let i = ks.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [ks[i], ks[j]] = [ks[j]!, ks[i]!];
  }
  return ks;
}

/** A kind drawn by weight. */
export function pickKind(r: Rng): MutationKind {
  const total = MUTATION_KINDS.reduce((s, k) => s + WEIGHTS[k], 0);
  let x = r.next() * total;
  for (const k of MUTATION_KINDS) {
    x -= WEIGHTS[k];
    if (x < 0) return k;
  }
  return 'touch';
}

/** Entries that must stay: import roots and the files another layer imports by stacker://. */
export interface Constraints {
  /** Paths never deleted, renamed or turned into another type. */
  pinned: ReadonlySet<string>;
  /** Where unrelated (not imported) files live. */
  unrelatedDir: string;
  /** A file of `unrelatedDir` that `yaml-import` adds to (or removes from) a layer's imports. */
  optionalImport: string;
  /** `yaml-shape`: a layer whose built parent may change, and the parents it may take. */
  reparent: { layer: string; parents: string[] };
  /** `yaml-shape`: layers that no other layer uses, whose `build_only` may flip. */
  leaves: string[];
  /** `yaml-shape`: the `dest`s an import with one may take. */
  dests: string[];
}

/** Layers importing `path` (or a tree containing it). */
export function ownersOf(m: ProjectModel, paths: readonly string[]): string[] {
  return m.layers.filter((l) => localImports(l).some((root) => paths.some((p) => within(p, root) || within(root, p)))).map((l) => l.name);
}

function importRootOf(m: ProjectModel, path: string): string | undefined {
  for (const l of m.layers) for (const root of localImports(l)) if (within(path, root)) return root;
  return undefined;
}

const OLD_DATES = ['2001-02-03 04:05:06.123456789', '1999-12-31 23:59:59', '2010-06-01 12:00:00.5'];

/**
 * Applies one mutation of `kind` to the workspace, or returns undefined when the project has no
 * candidate for it right now (the caller draws again).
 */
export async function mutate(ws: Workspace, r: Rng, kind: MutationKind, c: Constraints): Promise<Applied | undefined> {
  const m = ws.m;
  const entries = [...m.fs].filter(([p]) => importRootOf(m, p) !== undefined);
  const roots = new Set(m.layers.flatMap(localImports));
  const files = entries.filter(([, n]) => n.type === 'file').map(([p]) => p);
  const dirs = entries.filter(([, n]) => n.type === 'dir').map(([p]) => p);
  const symlinks = entries.filter(([, n]) => n.type === 'symlink').map(([p]) => p);
  const movable = entries.map(([p]) => p).filter((p) => !roots.has(p) && ![...c.pinned].some((q) => within(q, p)));
  const fsChange = async (paths: string[], what: string, act: () => Promise<void>): Promise<Applied> => {
    const snap = ws.snapshot(paths);
    await act();
    await ws.verify(paths);
    return {
      kind, what, touched: ownersOf(m, paths),
      undo: async () => {
        await ws.restore(paths, snap);
        await ws.verify(paths);
      },
    };
  };
  const yamlChange = async (what: string, touched: string[], act: () => void): Promise<Applied> => {
    const layers = cloneLayers(m.layers);
    const style = m.style;
    act();
    await ws.writeYaml();
    return {
      kind, what, touched,
      undo: async () => {
        m.layers = layers;
        m.style = style;
        await ws.writeYaml();
      },
    };
  };
  const newName = (dir: string): string => {
    for (;;) {
      const name = r.chance(0.1) ? `${r.word(3)} ${r.word(3)}` : r.chance(0.05) ? `é${r.word(3)}` : r.word(5);
      if (!m.fs.has(`${dir}/${name}`)) return `${dir}/${name}`;
    }
  };
  const randomContent = (): Buffer => (r.chance(0.5) ? Buffer.from(`${r.word(1 + r.int(40))}\n`) : r.bytes(r.int(300)));

  switch (kind) {
    case 'content-same-size': {
      const cands = files.filter((p) => (m.fs.get(p) as { content: Buffer }).content.length > 0);
      if (cands.length === 0) return undefined;
      const p = r.pick(cands);
      const old = (m.fs.get(p) as { content: Buffer }).content;
      let next = r.bytes(old.length);
      while (next.equals(old)) next = r.bytes(old.length);
      // Often only one byte differs: a change a size or prefix check would miss.
      if (r.chance(0.5)) {
        next = Buffer.from(old);
        const i = r.int(old.length);
        next[i] = (old[i]! + 1 + r.int(255)) % 256;
      }
      const keep = r.chance(0.5);
      return fsChange([p], `rewrite ${p} (${old.length} bytes, same size${keep ? ', mtime kept' : ''})`, () => ws.rewrite(p, next, keep));
    }
    case 'append': {
      if (files.length === 0) return undefined;
      const p = r.pick(files);
      const more = r.chance(0.5) ? Buffer.from(`${r.word(3)}\n`) : r.bytes(1 + r.int(20));
      return fsChange([p], `append ${more.length} bytes to ${p}`, () => ws.append(p, more));
    }
    case 'resize': {
      if (files.length === 0) return undefined;
      const p = r.pick(files);
      const old = (m.fs.get(p) as { content: Buffer }).content;
      const next = old.length > 0 && r.chance(0.5) ? old.subarray(0, r.int(old.length)) : Buffer.concat([r.bytes(1 + r.int(50)), old]);
      return fsChange([p], `rewrite ${p} (${old.length} -> ${next.length} bytes)`, () => ws.rewrite(p, next, r.chance(0.3)));
    }
    case 'new-file': {
      if (dirs.length === 0) return undefined;
      const d = r.pick(dirs);
      if (r.chance(0.3)) {
        const sub = newName(d);
        const f = `${sub}/${r.word(4)}`;
        const content = randomContent();
        const mode = r.pick(FILE_MODES);
        return fsChange([sub], `new directory ${sub} with ${f}`, async () => {
          await ws.add(sub, { type: 'dir', mode: r.pick(DIR_MODES) });
          await ws.add(f, { type: 'file', content, mode });
        });
      }
      const f = newName(d);
      if (r.chance(0.15)) {
        const mode = r.pick(DIR_MODES);
        return fsChange([f], `new empty directory ${f} (${mode.toString(8)})`, () => ws.add(f, { type: 'dir', mode }));
      }
      const n: FsNode = r.chance(0.2) ? { type: 'symlink', target: r.pick([r.word(4), `../${r.word(3)}`, '.']) } : { type: 'file', content: randomContent(), mode: r.pick(FILE_MODES) };
      return fsChange([f], `new ${n.type} ${f}`, () => ws.add(f, n));
    }
    case 'delete': {
      if (movable.length === 0) return undefined;
      const p = r.pick(movable);
      return fsChange([p], `delete ${m.fs.get(p)!.type} ${p}`, () => ws.remove(p));
    }
    case 'rename':
    case 'move-between-imports': {
      if (movable.length === 0) return undefined;
      const p = r.pick(movable);
      const root = importRootOf(m, p)!;
      const targets = dirs.filter((d) => !within(d, p) && (kind === 'rename' ? within(d, root) : !within(d, root)));
      if (targets.length === 0) return undefined;
      const to = newName(r.pick(targets));
      return fsChange([p, to], `${kind === 'rename' ? 'rename' : 'move'} ${p} -> ${to}`, () => ws.rename(p, to));
    }
    case 'chmod': {
      const cands = [...files, ...dirs];
      if (cands.length === 0) return undefined;
      const p = r.pick(cands);
      const n = m.fs.get(p)!;
      const modes = (n.type === 'dir' ? DIR_MODES : FILE_MODES).filter((x) => x !== (n as { mode: number }).mode);
      const mode = r.pick(modes);
      return fsChange([p], `chmod ${mode.toString(8)} ${p} (was ${(n as { mode: number }).mode.toString(8)})`, () => ws.chmod(p, mode));
    }
    case 'touch':
    case 'touch-old': {
      const p = r.pick([...entries.map(([q]) => q), 'stacker.yaml']);
      const date = kind === 'touch' ? undefined : r.pick(OLD_DATES);
      await ws.touch(p, date);
      return { kind, what: date === undefined ? `touch ${p}` : `touch -d '${date}' ${p}`, touched: [], undo: async () => {} };
    }
    case 'retarget-symlink': {
      if (symlinks.length === 0) return undefined;
      const p = r.pick(symlinks);
      const old = (m.fs.get(p) as { target: string }).target;
      // An import that is itself a symlink must point at another import of its layer: stacker
      // fails to run a step with a dangling one (bwrap cannot bind it; reported separately).
      const siblings = roots.has(p) ? m.layers.filter((l) => localImports(l).includes(p)).flatMap(localImports).filter((q) => q !== p && q !== old) : undefined;
      if (siblings !== undefined && siblings.length === 0) return undefined;
      let target = old;
      while (target === old) target = siblings !== undefined ? r.pick(siblings) : r.pick([r.word(4), `../${r.word(2)}`, `${old}x`, old.slice(0, -1) || 'y', 'a.txt']);
      return fsChange([p], `symlink ${p}: ${old} -> ${target}`, () => ws.replace(p, { type: 'symlink', target }));
    }
    case 'type-change': {
      const cands = movable.filter((p) => m.fs.get(p)!.type !== 'dir');
      if (cands.length === 0) return undefined;
      const p = r.pick(cands);
      const was = m.fs.get(p)!;
      const n: FsNode = was.type === 'file' ? { type: 'symlink', target: r.word(4) } : { type: 'file', content: Buffer.from((was as { target: string }).target), mode: 0o644 };
      return fsChange([p], `${p}: ${was.type} -> ${n.type}`, () => ws.replace(p, n));
    }
    case 'unrelated-file': {
      const existing = [...m.fs.keys()].filter((p) => within(p, c.unrelatedDir) && p !== c.unrelatedDir);
      const p = existing.length > 0 && r.chance(0.6) ? r.pick(existing) : newName(c.unrelatedDir);
      const content = randomContent();
      return fsChange([p], `write unrelated ${p}`, async () => {
        if (m.fs.has(p)) await ws.remove(p);
        await ws.add(p, { type: 'file', content, mode: 0o644 });
      });
    }
    case 'yaml-run': {
      const l = r.pick(m.layers.filter((x) => x.run !== null));
      const run = l.run!;
      const extra = run.map((line, i) => [line, i] as const).filter(([line]) => /^echo \w+ > \/dev\/null$/.test(line));
      if (extra.length > 0 && r.chance(0.5)) {
        const [line, i] = r.pick(extra);
        const drop = r.chance(0.5);
        const repl = `echo ${r.word(5)} > /dev/null`;
        return yamlChange(`${l.name}.run: ${drop ? `drop "${line}"` : `"${line}" -> "${repl}"`}`, [l.name], () => {
          if (drop) l.run!.splice(i, 1);
          else l.run![i] = repl;
        });
      }
      const add = `echo ${r.word(5)} > /dev/null`;
      return yamlChange(`${l.name}.run: add "${add}"`, [l.name], () => l.run!.push(add));
    }
    case 'yaml-env':
    case 'yaml-label': {
      const l = r.pick(m.layers);
      const field = kind === 'yaml-env' ? 'env' : 'labels';
      const map = l[field];
      const names = kind === 'yaml-env' ? ['MODE', 'LEVEL', 'APP_OPT'] : ['org.example.a', 'org.example.b', 'org.example.team'];
      const key = r.pick(names);
      if (map[key] !== undefined && r.chance(0.35)) {
        return yamlChange(`${l.name}.${field}.${key}: removed (was "${map[key]}")`, [l.name], () => {
          delete l[field][key];
        });
      }
      let value = map[key];
      while (value === map[key]) value = r.pick([r.word(3), `${r.word(2)} ${r.word(2)}`, '1', '01']);
      return yamlChange(`${l.name}.${field}.${key}: ${map[key] === undefined ? '(unset)' : `"${map[key]}"`} -> "${value}"`, [l.name], () => {
        l[field][key] = value!;
      });
    }
    case 'yaml-import': {
      const l = r.pick(m.layers.filter((x) => x.run !== null));
      const i = l.imports.findIndex((x) => x.kind === 'local' && x.path === c.optionalImport);
      if (i >= 0) return yamlChange(`${l.name}.imports: remove ${c.optionalImport}`, [l.name], () => void l.imports.splice(i, 1));
      const at = r.int(l.imports.length + 1);
      return yamlChange(`${l.name}.imports: add ${c.optionalImport} at ${at}`, [l.name], () => void l.imports.splice(at, 0, { kind: 'local', path: c.optionalImport }));
    }
    case 'yaml-shape': {
      const what = r.pick(['parent', 'build_only', 'dest'] as const);
      if (what === 'parent') {
        const l = m.layers.find((x) => x.name === c.reparent.layer)!;
        const was = new Map(l.from).get('tag');
        const to = r.pick(c.reparent.parents.filter((x) => x !== was));
        return yamlChange(`${l.name}.from.tag: ${was} -> ${to}`, [l.name], () => {
          l.from = [['type', 'built'], ['tag', to]];
        });
      }
      if (what === 'build_only') {
        const leaf = r.pick(c.leaves); // once: a pick inside find() would draw anew for every layer
        const l = m.layers.find((x) => x.name === leaf)!;
        return yamlChange(`${l.name}.build_only: ${l.buildOnly} -> ${!l.buildOnly}`, [l.name], () => {
          l.buildOnly = !l.buildOnly;
        });
      }
      const cands = m.layers.flatMap((l) => l.imports.flatMap((i) => (i.kind === 'local' && i.dest !== undefined ? [[l, i] as const] : [])));
      if (cands.length === 0) return undefined;
      const [l, imp] = r.pick(cands);
      const to = r.pick(c.dests.filter((d) => d !== imp.dest));
      return yamlChange(`${l.name}: import ${imp.path} dest ${imp.dest} -> ${to}`, [l.name], () => {
        const i = l.imports.find((x) => x.kind === 'local' && x.path === imp.path && x.dest === imp.dest);
        if (i !== undefined && i.kind === 'local') i.dest = to;
      });
    }
    case 'type-change-dir': {
      const cands = movable.filter((p) => m.fs.get(p)!.type === 'dir');
      if (cands.length === 0) return undefined;
      const p = r.pick(cands);
      return fsChange([p], `${p}: directory -> empty file`, () => ws.replace(p, { type: 'file', content: Buffer.alloc(0), mode: 0o644 }));
    }
    case 'yaml-style': {
      const style = r.seed();
      return yamlChange(`stacker.yaml rewritten in style ${style} (comments, blank lines, indentation, quotes, key order)`, [], () => {
        m.style = style;
      });
    }
  }
}
