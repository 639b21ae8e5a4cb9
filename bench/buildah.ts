/**
 * stacker against buildah (issue 3: "no-op and one-layer-edit rebuilds ... at most half of
 * buildah's time"), both rootless as the same ordinary user, in the same run, interleaved.
 * Usage: node dist/bench/buildah.js [--runs N] [--as USER] [--layers N] [--import-kb K] [--no-runc] [--no-snapshot]
 * From root it runs itself as USER (default `builder`, which needs a subuid range); else as the caller.
 *
 * Two equivalent pairs (a stacker.yaml and a Containerfile), each built by every tool in turn:
 * - `hello`: examples/hello (busybox base from the OCI layout, two imports and a run; then `app`
 *   with a run and image config);
 * - `chain`: N layers (default 10), each built on the one before with one import (K KiB of
 *   random data, default 1024) and a run that copies it into the image.
 * A stacker layer `L` (imports + run + config) is the stage `FROM <parent> AS L` + `COPY <imports>
 * /stacker/imports/` + `RUN <run>` (+ ENV/LABEL/WORKDIR/CMD). COPY is buildah's only way to
 * give a RUN files whose content is part of the cache key: buildah 1.28 reuses a cached
 * `RUN --mount=type=bind` after the mounted file changed.
 * Per round and project: clean (stacker clean / buildah rmi --all --force, not timed), then, each
 * by every tool in turn: cold build, no-op rebuild, the leaf layer's run text edited, the first
 * layer's run text edited (every layer after it rebuilds). Each edit writes text never built
 * before. Wall time of the whole command; medians over the rounds. For ours, also the edited
 * leaf's run step (its `node-step` run -> pack events in `--json`), for "leaf edit minus its step".
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bareFloorArgv } from './common.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const runs = Number(opt('--runs') ?? 5);
const chainLayers = Number(opt('--layers') ?? 10);
const importKb = Number(opt('--import-kb') ?? 1024);
const asUser = opt('--as') ?? 'builder';
const RUNC = '/usr/sbin/runc';

// From root, the whole bench runs again as the user (runuser once, not per command: its PAM
// session costs ~100 ms that neither tool would pay), with that user's HOME and a runtime dir.
if (process.getuid?.() === 0) {
  const home = spawnSync('getent', ['passwd', asUser], { encoding: 'utf8' }).stdout.split(':')[5];
  if (home === undefined) throw new Error(`no user ${asUser} (give one with a subuid range: --as USER)`);
  const self = ['runuser', '-u', asUser, '--', 'env', `HOME=${home}`, `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, process.execPath, fileURLToPath(import.meta.url), ...argv.filter((_, i) => argv[i] !== '--as' && argv[i - 1] !== '--as')];
  process.exit(spawnSync(self[0]!, self.slice(1), { stdio: 'inherit' }).status ?? 1);
}
const user = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
const commit = spawnSync('git', ['-c', 'safe.directory=*', '-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
const buildahVersion = spawnSync('buildah', ['--version'], { encoding: 'utf8' }).stdout.trim();

// Buildah wants a lowercase path in `FROM oci:PATH:tag` (it is turned into an image name).
const work = join(tmpdir(), `stacker-bench-buildah-${process.pid}-${Date.now().toString(36)}`);
const xdg = join(work, 'xdg');
const env = { ...process.env, XDG_RUNTIME_DIR: xdg };

/**
 * The CLI as built when the bench starts (bin, the bundle, the native addon and helper, migrations; the
 * dependencies by symlink): others may rebuild dist/ during a long run, and every round must
 * time the same code. `--no-snapshot` runs the checkout's bin/stacker.js instead.
 */
function snapshot(): string {
  if (argv.includes('--no-snapshot')) return join(repo, 'bin', 'stacker.js');
  const bundle = join(repo, 'dist', 'bundle', 'stacker.cjs');
  const main = join(repo, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(bundle) || (existsSync(main) && statSync(main).mtimeMs > statSync(bundle).mtimeMs)) {
    throw new Error('dist/bundle/stacker.cjs is missing or older than dist/src: run `npm run build` first');
  }
  const dir = join(work, 'stacker');
  for (const p of ['package.json', 'bin', 'cache', join('build', 'Release', 'stacker_native.node'), join('build', 'Release', 'stacker-nsrun'), join('dist', 'bundle')]) {
    cpSync(join(repo, p), join(dir, p), { recursive: true });
  }
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  return join(dir, 'bin', 'stacker.js');
}

interface Out { ms: number; stdout: string; stderr: string }
function run(cwd: string, cmd: string[]): Out {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return { ms, stdout: r.stdout, stderr: r.stderr };
}

/** One layer of an equivalent pair: what stacker and the Containerfile both say. */
interface Layer { name: string; imports: string[]; run: string[]; config?: { env: Record<string, string>; labels: Record<string, string>; workdir: string; cmd: string } }
interface Project { name: string; dir: string; layers: Layer[] }

function stackerYaml(p: Project): string {
  const q = JSON.stringify;
  return p.layers.map((l, i) => {
    const out = [`${l.name}:`, i === 0 ? '  from: {type: oci, url: ../base/oci:busybox}' : `  from: {type: built, tag: ${p.layers[i - 1]!.name}}`];
    if (l.imports.length > 0) out.push(`  imports: [${l.imports.join(', ')}]`);
    out.push('  run: |', ...l.run.map((s) => `    ${s}`));
    if (l.config !== undefined) {
      out.push('  environment:', ...Object.entries(l.config.env).map(([k, v]) => `    ${k}: ${q(v)}`));
      out.push('  labels:', ...Object.entries(l.config.labels).map(([k, v]) => `    ${k}: ${q(v)}`));
      out.push(`  working_dir: ${l.config.workdir}`, `  cmd: ${l.config.cmd}`);
    }
    return out.join('\n');
  }).join('\n\n') + '\n';
}

function containerfile(p: Project): string {
  const q = JSON.stringify;
  return p.layers.map((l, i) => {
    const out = [`FROM ${i === 0 ? `oci:${join(work, 'base', 'oci')}:busybox` : p.layers[i - 1]!.name} AS ${l.name}`];
    if (l.imports.length > 0) out.push(`COPY ${l.imports.join(' ')} /stacker/imports/`);
    // stacker runs the script with `sh -e`; the same lines joined with && (buildah 1.28 has no heredocs).
    out.push(`RUN ${l.run.map((s) => s.replaceAll('$STACKER_LAYER_NAME', l.name)).join(' && ')}`);
    if (l.config !== undefined) {
      out.push(`ENV ${Object.entries(l.config.env).map(([k, v]) => `${k}=${q(v)}`).join(' ')}`);
      out.push(`LABEL ${Object.entries(l.config.labels).map(([k, v]) => `${k}=${q(v)}`).join(' ')}`);
      out.push(`WORKDIR ${l.config.workdir}`, `CMD [${q(l.config.cmd)}]`);
    }
    return out.join('\n');
  }).join('\n\n') + '\n';
}

function hello(): Project {
  const dir = join(work, 'hello');
  mkdirSync(dir);
  for (const f of ['config.json', 'install.sh']) cpSync(join(repo, 'examples', 'hello', f), join(dir, f));
  return { name: 'hello', dir, layers: [
    { name: 'hello', imports: ['config.json', 'install.sh'], run: ['mkdir -p /etc/app', 'cp /stacker/imports/config.json /etc/app/config.json', 'sh /stacker/imports/install.sh'] },
    { name: 'app', imports: [], run: ['echo "built by stacker for $STACKER_LAYER_NAME" > /etc/motd'], config: {
      env: { APP_CONFIG: '/etc/app/config.json', GREETING: 'hello from stacker' },
      labels: { 'org.opencontainers.image.title': 'hello-app', 'org.opencontainers.image.description': 'The stacker example application' },
      workdir: '/usr/share/hello', cmd: '/usr/local/bin/hello' } },
  ] };
}

function chain(): Project {
  const dir = join(work, 'chain');
  mkdirSync(dir);
  const layers: Layer[] = [];
  for (let i = 0; i < chainLayers; i++) {
    const n = `l${String(i).padStart(2, '0')}`;
    writeFileSync(join(dir, `${n}.bin`), randomBytes(importKb * 1024));
    layers.push({ name: n, imports: [`${n}.bin`], run: [`cp /stacker/imports/${n}.bin /${n}.bin`] });
  }
  return { name: 'chain', dir, layers };
}

/** Writes both files with `mark` appended to the runs of the layers given. */
function write(p: Project, marks: Map<number, string>): void {
  const q: Project = { ...p, layers: p.layers.map((l, i) => (marks.has(i) ? { ...l, run: [...l.run, `echo ${marks.get(i)} > /edit-${l.name}`] } : l)) };
  writeFileSync(join(p.dir, 'stacker.yaml'), stackerYaml(q));
  writeFileSync(join(p.dir, 'Containerfile'), containerfile(q));
}

interface Tool { name: string; clean(p: Project): void; build(p: Project, k: Kind): { ms: number; built: number; stepMs?: number } }

function events(stdout: string): { time: number; type: string; layer?: string; step?: string; built?: number }[] {
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => { const e = JSON.parse(l); return { ...e, time: Date.parse(e.time) }; });
}

const ours: Tool = {
  name: 'stacker',
  clean: (p) => void run(p.dir, [bin, 'clean']),
  build(p, k) {
    // A user's no-op: plain output (the first one after a build leaves the no-op stamp the
    // second is answered from; --json builds write none).
    if (k === 'noop' || k === 'noop2') {
      const plain = run(p.dir, [bin, 'build']);
      return { ms: plain.ms, built: (plain.stdout.match(/^filesystem .* built successfully$/gm) ?? []).length };
    }
    const r = run(p.dir, [bin, '--json', 'build']);
    const ev = events(r.stdout);
    const leaf = p.layers[p.layers.length - 1]!.name;
    const at = (step: string): number | undefined => ev.find((e) => e.type === 'node-step' && e.layer === leaf && e.step === step)?.time;
    const t0 = at('run');
    const t1 = at('pack');
    return { ms: r.ms, built: ev.find((e) => e.type === 'build-finished')?.built ?? -1, ...(t0 !== undefined && t1 !== undefined ? { stepMs: t1 - t0 } : {}) };
  },
};

/** Each variant has its own storage: one's cache must not serve the other's builds. */
function buildah(name: string, flags: string[]): Tool {
  const id = name.replace(/\W+/g, '-');
  const base = ['buildah', '--storage-driver', 'overlay', '--root', join(work, `storage-${id}`), '--runroot', join(xdg, `run-${id}`)];
  return {
    name,
    clean: (p) => void run(p.dir, [...base, 'rmi', '--all', '--force']),
    build(p) {
      const r = run(p.dir, [...base, 'bud', '--layers', '--network', 'host', ...flags, '-t', `bench-${p.name}`, '.']);
      const text = r.stdout + r.stderr;
      if (process.env.BENCH_DEBUG) process.stderr.write(text);
      const steps = (text.match(/^(?:\[\d+\/\d+\] )?STEP \d+\/\d+: (?!FROM)/gm) ?? []).length;
      const cached = (text.match(/^--> Using cache /gm) ?? []).length;
      return { ms: r.ms, built: steps - cached };
    },
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(', ');

if (!existsSync(join(repo, 'examples', 'base', 'oci', 'index.json'))) throw new Error('examples/base/oci is missing: run scripts/setup.sh (or scripts/make-busybox-oci.sh examples/base/oci)');
mkdirSync(xdg, { recursive: true, mode: 0o700 });
cpSync(join(repo, 'examples', 'base'), join(work, 'base'), { recursive: true });
const bin = snapshot();
const tools = [ours, buildah('buildah chroot', ['--isolation', 'chroot'])];
if (!argv.includes('--no-runc') && existsSync(RUNC)) tools.push(buildah('buildah runc', ['--isolation', 'oci', '--runtime', RUNC]));
const projects = [hello(), chain()];
const loads = [load()];
const kinds = ['cold', 'noop', 'noop2', 'leaf', 'early'] as const;
type Kind = (typeof kinds)[number];
/** times[project][tool][kind] */
const times = projects.map(() => tools.map(() => ({ cold: [] as number[], noop: [] as number[], noop2: [] as number[], leaf: [] as number[], early: [] as number[], step: [] as number[] })));
const expected = (p: Project, k: Kind, t: Tool): number => {
  const layers = p.layers.length;
  if (t === ours) return { cold: layers, noop: 0, noop2: 0, leaf: 1, early: layers }[k];
  const steps = p.layers.reduce((n, l) => n + (l.imports.length > 0 ? 2 : 1) + (l.config !== undefined ? 4 : 0), 0);
  const leafSteps = 1 + (p.layers[layers - 1]!.config !== undefined ? 4 : 0);
  return { cold: steps, noop: 0, noop2: 0, leaf: leafSteps, early: steps - (p.layers[0]!.imports.length > 0 ? 1 : 0) }[k];
};

try {
  for (let round = 0; round < runs; round++) {
    for (const [pi, p] of projects.entries()) {
      // Each measurement by every tool in turn (the order rotating by round), so that a burst
      // of load from other jobs falls on all of them alike.
      const order = tools.map((_, i) => (i + round) % tools.length);
      const measure = (k: Kind): void => {
        for (const ti of order) {
          const t = tools[ti]!;
          const r = t.build(p, k);
          if (r.built !== expected(p, k, t)) throw new Error(`${t.name} ${p.name} ${k}: built ${r.built}, expected ${expected(p, k, t)}`);
          times[pi]![ti]![k].push(r.ms);
          if (k === 'leaf' && r.stepMs !== undefined) times[pi]![ti]!.step.push(r.stepMs);
        }
      };
      const last = p.layers.length - 1;
      write(p, new Map([[0, `r${round}a`], [last, `r${round}a`]]));
      for (const t of tools) t.clean(p);
      measure('cold');
      measure('noop');
      measure('noop2');
      write(p, new Map([[0, `r${round}a`], [last, `r${round}b`]]));
      measure('leaf');
      write(p, new Map([[0, `r${round}b`], [last, `r${round}b`]]));
      measure('early');
    }
    loads.push(load());
  }
  const node: number[] = [];
  for (let i = 0; i < runs; i++) node.push(run(work, bareFloorArgv).ms);

  const fmt = (xs: number[]): string => `${median(xs).toFixed(0)} ms`;
  const out: string[] = [];
  const what: Record<Kind, string> = { cold: 'cold build', noop: 'no-op rebuild, the first after a build', noop2: 'no-op rebuild again (ours: from the no-op stamp)', leaf: 'leaf layer\'s run edited', early: 'first layer\'s run edited' };
  for (const [pi, p] of projects.entries()) {
    out.push(`\n### ${p.name} (${p.layers.length} layers${p.name === 'chain' ? `, ${importKb} KiB import each` : ''})\n`);
    out.push(`| what | ${tools.map((t) => t.name).join(' | ')} | ours / fastest buildah |`, `| --- |${tools.map(() => ' ---: |').join('')} ---: |`);
    for (const k of kinds) {
      const meds = tools.map((_, ti) => median(times[pi]![ti]![k]));
      const best = Math.min(...meds.slice(1));
      out.push(`| ${what[k]} | ${meds.map((m) => `${m.toFixed(0)} ms`).join(' | ')} | ${(meds[0]! / best).toFixed(2)} |`);
    }
    const step = times[pi]![0]!.step;
    if (step.length > 0) {
      const over = times[pi]![0]!.leaf.map((ms, i) => ms - (step[i] ?? 0));
      const blank = ' |'.repeat(tools.length);
      out.push(`| ours: the leaf's run step alone | ${fmt(step)} |${blank}`, `| ours: leaf edit minus its run step (target <= 300 ms) | ${fmt(over)} |${blank}`);
    }
  }
  out.push(`\n\`node -e 0\` as the user (without NODE_EXTRA_CA_CERTS): ${fmt(node)}. Medians of ${runs} rounds, as ${user}; stacker at ${commit}, Node ${process.version}, ${buildahVersion}. Load average (1, 5, 15 min) at the start and after each round: ${loads.join(' / ')}.`);
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  // Both tools leave files owned by the user's subordinate ids: only the user's namespace can
  // remove them.
  spawnSync('buildah', ['unshare', 'rm', '-rf', work], { env });
  rmSync(work, { recursive: true, force: true });
}
