/**
 * No-op rebuilds and planning (issue 3, "Speed"). Usage:
 *   node dist/bench/noop.js [runs] [--as USER] [--only a,b,c,d]
 *
 * Scenarios, each a project under $STACKER_BENCH_DIR/noop (default /var/tmp/stacker-bench),
 * whose import data is made once and reused:
 *   a. 20 layers (a chain on the busybox OCI layout), each importing one 25 MB file: 500 MB;
 *   b. 20 layers, each importing a directory of 500 small files: 10,000 files;
 *   c. 200 layers (10 chains of 20), each importing a small file: the planner's growth;
 *   d. examples/hello (2 layers).
 * For each: a first real build (timed once; rootless with --as USER, else as the caller), then,
 * in turns so that the machine's load falls on all alike, `runs` no-op `stacker build`s (answered
 * from the no-op stamp the first one leaves), `runs` full no-ops (STACKER_NO_STAMP=1) and
 * `node -e 0`; then `touch` of every import and one build (it must rebuild nothing: the stat
 * cache re-hashes the touched files), and the no-op after it; then `runs` edits of the last
 * layer's `run` (new text each time), each a build of that layer alone: wall time, and that
 * minus the layer's run step (issue 3: "at most its step time plus 300 ms"). Also in process (modules loaded):
 * loading the spec, the graph and planBuild, the planning work of a no-op. Wall times, medians.
 * `why-rebuilt` (a dry run: planning only) is timed for c.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { asUser, bareFloorArgv, bin, floorArgv, median, prefix, repo, runsArg } from './common.js';

const args = process.argv.slice(2);
const runs = runsArg(7);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1]!.split(',') : ['a', 'b', 'c', 'd'];
const benchDir = join(process.env.STACKER_BENCH_DIR ?? '/var/tmp/stacker-bench', 'noop');

const pad = (i: number, n = 2): string => String(i).padStart(n, '0');

function run(cwd: string, argv: string[]): { ms: number; out: string } {
  const full = [...prefix, ...argv];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(full[0]!, full.slice(1), { cwd, encoding: 'utf8', maxBuffer: 256 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed in ${cwd}:\n${r.stdout}\n${r.stderr}`);
  return { ms, out: r.stdout };
}

const stacker = (cwd: string, a: string[]): { ms: number; out: string } => run(cwd, [bin, ...a]);

/** Layers a `--json` build built (none for a no-op). */
function built(out: string): string[] {
  return out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; layer?: string }).filter((e) => e.type === 'node-built').map((e) => e.layer!);
}

/** A file of `mb` MiB, different for each `seed` (content does not change hashing speed). */
function bigFile(path: string, mb: number, seed: number): void {
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ seed) >>> 0, i);
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < mb; i++) {
      chunk.writeUInt32LE(i, 0);
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
}

interface Scenario { name: string; what: string; dir: string; imports: string[] }

/** Writes a scenario's project (and its data, once). */
function setUp(name: string): Scenario {
  const dir = join(benchDir, name);
  const done = join(dir, '.bench-data-complete');
  const yaml: string[] = [];
  const imports: string[] = [];
  const layer = (i: number, from: string, imp: string, run: string): void => {
    yaml.push(`l${pad(i, 3)}:`, `  from: ${from}`, `  imports: [${imp}]`, `  run: ${run}`);
    imports.push(join(dir, imp));
  };
  const chainFrom = (i: number, every: number): string => (i % every === 0 ? '{type: oci, url: base/oci:busybox}' : `{type: built, tag: l${pad(i - 1, 3)}}`);
  let what: string;
  if (!existsSync(done)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    cpSync(join(repo, 'examples', 'base', 'oci'), join(dir, 'base', 'oci'), { recursive: true });
  }
  if (name === 'a') {
    what = '20 layers, imports: 20 files, 500 MB';
    for (let i = 0; i < 20; i++) {
      if (!existsSync(done)) bigFile(join(dir, `big${pad(i)}.bin`), 25, i);
      layer(i, chainFrom(i, 20), `big${pad(i)}.bin`, `echo ${i} > /l${i}`);
    }
  } else if (name === 'b') {
    what = '20 layers, imports: 20 directories, 10,000 files';
    for (let i = 0; i < 20; i++) {
      const d = join(dir, `d${pad(i)}`);
      if (!existsSync(done)) {
        mkdirSync(d, { recursive: true });
        for (let j = 0; j < 500; j++) writeFileSync(join(d, `f${pad(j, 3)}.txt`), `file ${i}/${j}\n`.repeat(20));
      }
      layer(i, chainFrom(i, 20), `d${pad(i)}`, `echo ${i} > /l${i}`);
    }
    // a directory import's files are listed one by one in `imports`
    imports.length = 0;
    for (let i = 0; i < 20; i++) for (let j = 0; j < 500; j++) imports.push(join(dir, `d${pad(i)}`, `f${pad(j, 3)}.txt`));
  } else {
    what = '200 layers (10 chains of 20), 200 small imports';
    for (let i = 0; i < 200; i++) {
      if (!existsSync(done)) writeFileSync(join(dir, `f${pad(i, 3)}.txt`), `file ${i}\n`);
      layer(i, chainFrom(i, 20), `f${pad(i, 3)}.txt`, `echo ${i} > /l${i}`);
    }
  }
  writeFileSync(join(dir, 'stacker.yaml'), `${yaml.join('\n')}\n`);
  writeFileSync(done, '');
  if (asUser !== undefined) spawnSync('chown', ['-R', `${asUser}:`, dir]); // and the user's group, as a user's own files
  return { name, what, dir, imports };
}

function hello(): Scenario {
  const work = join(benchDir, 'examples');
  rmSync(work, { recursive: true, force: true });
  cpSync(join(repo, 'examples'), work, { recursive: true });
  if (asUser !== undefined) spawnSync('chown', ['-R', `${asUser}:`, work]);
  const dir = join(work, 'hello');
  return { name: 'd', what: 'examples/hello, 2 layers', dir, imports: [join(dir, 'config.json'), join(dir, 'install.sh')] };
}

/** In process, modules loaded: load the spec, order it, plan it (the no-op's planning). */
async function planInProcess(dir: string, n: number): Promise<{ load: number; plan: number }> {
  const { loadBuildSpec } = await import('../src/config/index.js');
  const { buildLayerGraph } = await import('../src/graph/index.js');
  const { planBuild } = await import('../src/engine/build.js');
  const { BuildIndex } = await import('../src/cache/index.js');
  const { resolvePaths } = await import('../src/engine/paths.js');
  const paths = resolvePaths({ cwd: dir });
  const loads: number[] = [];
  const plans: number[] = [];
  const prev = process.cwd();
  process.chdir(dir); // tar/oci base paths are relative to the CWD
  try {
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      const { spec } = await loadBuildSpec({ file: 'stacker.yaml', cwd: dir, substitutions: [], builtins: {}, specCacheDir: join(dir, '.stacker', 'bench-spec-cache') });
      const t1 = process.hrtime.bigint();
      const index = BuildIndex.open(paths.stackerDir);
      try {
        const planned = await planBuild({ paths, sourceDateEpoch: undefined, noCache: false }, spec, buildLayerGraph(spec).order, index);
        if (planned.steps.some((s) => s.state === 'build')) throw new Error(`${dir}: planning found layers to build`);
      } finally {
        index.close();
      }
      loads.push(Number(t1 - t0) / 1e6);
      plans.push(Number(process.hrtime.bigint() - t1) / 1e6);
    }
  } finally {
    process.chdir(prev);
  }
  return { load: median(loads.slice(1)), plan: median(plans.slice(1)) }; // the first load parses and fills the spec cache
}

/**
 * Edits the run of the file's last layer (new text each time) and builds: wall time, and the
 * time of that layer's run step alone (its `node-step` run -> pack events), for "a leaf edit
 * costs at most its step + 300 ms". The file is left edited; setUp writes it again.
 */
function leafEdit(dir: string, n: number): { ms: number; step: number } {
  const file = join(dir, 'stacker.yaml');
  const lines = readFileSync(file, 'utf8').split('\n');
  const at = lines.map((l) => /^\s+run: /.test(l)).lastIndexOf(true);
  const edit = `echo edit-${n}-${Date.now()} > /edit`;
  if (lines[at]!.trimEnd().endsWith('|')) lines.splice(at + 1, 0, `${' '.repeat(lines[at]!.search(/\S/) + 2)}${edit}`);
  else lines[at] = `${lines[at]}; ${edit}`;
  writeFileSync(file, lines.join('\n'));
  const r = stacker(dir, ['build', '--json']);
  const evs = r.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; layer?: string; step?: string; time: string });
  const layers = built(r.out);
  if (layers.length !== 1) throw new Error(`${dir}: a leaf edit built ${layers.join(' ') || 'nothing'}`);
  const t = (step: string): number => Date.parse(evs.find((e) => e.type === 'node-step' && e.layer === layers[0] && e.step === step)!.time);
  return { ms: r.ms, step: t('pack') - t('run') };
}

function touchAll(files: string[]): void {
  const now = new Date();
  for (const f of files) utimesSync(f, now, now);
}

const rows: string[] = [];
const row = (...cells: string[]): void => {
  rows.push(`| ${cells.join(' | ')} |`);
};
const ms = (x: number): string => `${x.toFixed(0)} ms`;
const loads: number[] = [];

// bin/stacker.js runs tsc's output instead of the bundle when the bundle is older: measure the bundle.
const bundle = statSync(join(repo, 'dist', 'bundle', 'stacker.cjs'), { throwIfNoEntry: false });
if (bundle === undefined || bundle.mtimeMs < statSync(join(repo, 'dist', 'src', 'cli', 'main.js')).mtimeMs) {
  throw new Error('dist/bundle/stacker.cjs is missing or older than dist/src: run `npm run build` first');
}
const scenarios = only.map((s) => (s === 'd' ? hello() : setUp(s)));
for (const sc of scenarios) {
  process.stderr.write(`scenario ${sc.name}: ${sc.what}: first build...\n`);
  stacker(sc.dir, ['clean']);
  const first = stacker(sc.dir, ['build', '--json']);
  stacker(sc.dir, ['build']); // also fills the code cache of this user, if there is none yet
  loads.push(loadavg()[0]!);
  const noop: number[] = [];
  const full: number[] = [];
  const floor: number[] = [];
  const bare: number[] = [];
  const why: number[] = [];
  stacker(sc.dir, ['build']); // a plain no-op: leaves the no-op stamp the next ones are answered from
  for (let i = 0; i < runs; i++) {
    const r = stacker(sc.dir, ['build']);
    if (/built successfully/.test(r.out)) throw new Error(`${sc.name}: a no-op build built:\n${r.out}`);
    noop.push(r.ms);
    const f = run(sc.dir, ['env', 'STACKER_NO_STAMP=1', bin, 'build']);
    if (/built successfully/.test(f.out)) throw new Error(`${sc.name}: a no-op build built:\n${f.out}`);
    full.push(f.ms);
    floor.push(run(sc.dir, floorArgv).ms);
    bare.push(run(sc.dir, bareFloorArgv).ms);
    if (sc.name === 'c') why.push(stacker(sc.dir, ['why-rebuilt']).ms);
  }
  loads.push(loadavg()[0]!);
  touchAll(sc.imports);
  const touched = stacker(sc.dir, ['build', '--json']);
  if (built(touched.out).length > 0) throw new Error(`${sc.name}: touching the imports rebuilt ${built(touched.out).join(' ')}`);
  const after = stacker(sc.dir, ['build', '--json']);
  const leaf: number[] = [];
  const over: number[] = [];
  if (sc.name !== 'c') {
    for (let i = 0; i < runs; i++) {
      const e = leafEdit(sc.dir, i);
      leaf.push(e.ms);
      over.push(e.ms - e.step);
    }
  }
  const inProc = await planInProcess(sc.dir, Math.max(runs, 5));
  if (asUser !== undefined) spawnSync('chown', ['-R', asUser, join(sc.dir, '.stacker')]); // files SQLite made as root
  const f = median(floor);
  const b = median(bare);
  row(sc.what, ms(first.ms), `**${ms(median(noop))}** (Node + ${ms(median(noop) - b)})`, `${ms(median(full))} (Node + ${ms(median(full) - b)})`, `${ms(f)} / ${ms(b)}`, ms(touched.ms), ms(after.ms), `${inProc.load.toFixed(1)} + ${inProc.plan.toFixed(1)} ms`,
    leaf.length > 0 ? `${ms(median(leaf))}: its step + **${ms(median(over))}**` : '');
  if (why.length > 0) row(`${sc.name}: \`why-rebuilt\` (dry run, plans only)`, '', `${ms(median(why))} (Node + ${ms(median(why) - b)})`, '', '', '', '', '', '');
}

process.stdout.write('| scenario | first build | no-op build, median (from its stamp) | the full no-op (STACKER_NO_STAMP=1) | `node -e 0`, median: as is / without NODE_EXTRA_CA_CERTS | after `touch` of every import | the no-op after that | in process: load spec + plan | the last layer\'s `run` edited, median |\n');
process.stdout.write('| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n');
process.stdout.write(`${rows.join('\n')}\n`);
process.stdout.write(`(${runs} runs each, as ${asUser ?? `uid ${process.getuid?.()}`}, Node ${process.version}, load average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)})\n`);
