/**
 * `why-rebuilt` and `history` latency on a 20-layer file (issue 3: "why-rebuilt answers from the
 * index in under 50 ms"). Usage: node dist/bench/why.js [runs] [--as USER]
 *
 * The file: `l00` from the busybox OCI layout with a directory import (200 files) and a file
 * import, `l01`…`l19` each built on the one before with its own import and run. After a cold
 * build, `l00`'s run, one file of its directory and an environment value change, and it is built
 * again (20 layers rebuilt, each with reasons and a root cause). Timed, wall time of the whole
 * CLI process, median of `runs`:
 * - `why-rebuilt --build N`: the index alone (no stacker file read, no planning);
 * - `why-rebuilt` after the build: a dry run of the planner (nothing would rebuild), then the
 *   last build that rebuilt something from the index;
 * - `why-rebuilt` before the build: the dry run that finds 20 layers to rebuild and explains them;
 * - `history`;
 * - `stacker --version`: what every command pays before it starts (bin, main, core, report);
 * - and in-process (modules loaded): explainBuild + rendering, and the dry run's planBuild.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asUser, bareFloorArgv, bin, median, prefix, repo, runsArg } from './common.js';

const runs = runsArg(7);
const LAYERS = 20;

function stacker(cwd: string, args: string[]): { ms: number; out: string } {
  const t0 = process.hrtime.bigint();
  const argv = [...prefix, bin, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`stacker ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return { ms, out: r.stdout };
}


interface Timing { median: number; min: number }

/** Each command `runs` times, in turns; `null` is `node -e 0`. */
function timeAll(cwd: string, commands: (string[] | null)[]): Timing[] {
  const xs = commands.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    commands.forEach((args, j) => {
      if (args !== null) {
        xs[j]!.push(stacker(cwd, args).ms);
        return;
      }
      const t0 = process.hrtime.bigint();
      const argv = [...prefix, ...bareFloorArgv];
      spawnSync(argv[0]!, argv.slice(1));
      xs[j]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  }
  return xs.map((v) => ({ median: median(v), min: Math.min(...v) }));
}

function yaml(version: number): string {
  const out = [
    'l00:',
    '  from: {type: oci, url: ../base/oci:busybox}',
    '  imports: [conf, install.sh]',
    `  run: |\n    mkdir -p /etc/app\n    cp -r /stacker/imports/conf /etc/app/\n    echo v${version} > /version`,
    `  environment: {VERSION: "${version}"}`,
  ];
  for (let i = 1; i < LAYERS; i++) {
    const n = String(i).padStart(2, '0');
    const p = String(i - 1).padStart(2, '0');
    out.push(`l${n}:`, `  from: {type: built, tag: l${p}}`, `  imports: [f${n}.txt]`, `  run: cp /stacker/imports/f${n}.txt /f${n}.txt`);
  }
  return `${out.join('\n')}\n`;
}

const work = mkdtempSync(join(tmpdir(), 'stacker-bench-why-'));
try {
  cpSync(join(repo, 'examples', 'base'), join(work, 'base'), { recursive: true });
  const dir = join(work, 'p');
  mkdirSync(join(dir, 'conf'), { recursive: true });
  for (let i = 0; i < 200; i++) writeFileSync(join(dir, 'conf', `c${i}.txt`), `conf ${i}\n`);
  writeFileSync(join(dir, 'install.sh'), 'echo install\n');
  for (let i = 1; i < LAYERS; i++) writeFileSync(join(dir, `f${String(i).padStart(2, '0')}.txt`), `file ${i}\n`);
  writeFileSync(join(dir, 'stacker.yaml'), yaml(1));
  if (asUser !== undefined) spawnSync('chown', ['-R', asUser, work]);
  const edit = (v: number): void => {
    writeFileSync(join(dir, 'stacker.yaml'), yaml(v));
    writeFileSync(join(dir, 'conf', 'c7.txt'), `conf 7 v${v}\n`);
    if (asUser !== undefined) spawnSync('chown', ['-R', asUser, dir]);
  };

  stacker(dir, ['build']);
  edit(2);
  const dryOut = stacker(dir, ['why-rebuilt']).out;
  if (!dryOut.startsWith(`would rebuild ${LAYERS} of ${LAYERS} layers`)) throw new Error(`unexpected dry run:\n${dryOut}`);
  const dryRun = timeAll(dir, [['why-rebuilt']])[0]!;
  stacker(dir, ['build']);
  stacker(dir, ['build']); // a no-op build: the history has one more entry
  const afterOut = stacker(dir, ['why-rebuilt']).out;
  if (!afterOut.includes('build 2 (')) throw new Error(`unexpected why-rebuilt:\n${afterOut}`);
  // Round robin, so that the machine's load falls on every command alike.
  const [byBuild, after, history, cliFloor, nodeFloor] = timeAll(dir, [['why-rebuilt', '--build', '2'], ['why-rebuilt'], ['history'], ['--version'], null]);

  // In process: what the commands cost once their modules are loaded.
  const { BuildIndex } = await import('../src/cache/index.js');
  const { explainBuild } = await import('../src/engine/why-history.js');
  const { renderWhy } = await import('../src/report/why-render.js');
  const inproc: number[] = [];
  for (let i = 0; i < runs * 3; i++) {
    const t0 = process.hrtime.bigint();
    const index = BuildIndex.open(join(dir, '.stacker'));
    renderWhy((await explainBuild(index, 2, []))!);
    index.close();
    inproc.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }

  const floor = nodeFloor!;
  const row = (what: string, t: Timing): string =>
    `| ${what} | ${t.median.toFixed(0)} ms | ${(t.median - floor.median).toFixed(0)} ms | ${(t.min - floor.min).toFixed(0)} ms |\n`;
  process.stdout.write(`| what (${LAYERS}-layer file, all ${LAYERS} rebuilt in build 2) | wall, median | beyond \`node -e 0\`, median | beyond \`node -e 0\`, best |\n| --- | --- | --- | --- |\n`);
  process.stdout.write(row('`why-rebuilt --build 2` (index only)', byBuild!));
  process.stdout.write(row('`why-rebuilt` after the build (dry run finds nothing, then build 2)', after!));
  process.stdout.write(row(`\`why-rebuilt\` before the build (dry run: ${LAYERS} layers, reasons, root causes)`, dryRun));
  process.stdout.write(row('`history`', history!));
  process.stdout.write(row('`stacker --version` (what every command pays: bin, main, core, report)', cliFloor!));
  process.stdout.write(`| open index + explainBuild + renderWhy, in process | ${median(inproc).toFixed(1)} ms | | |\n`);
  process.stdout.write(`| \`node -e 0\` (floor) | ${floor.median.toFixed(0)} ms (best ${floor.min.toFixed(0)} ms) | | |\n`);
  process.stdout.write(`(${runs} runs each, as ${asUser ?? `uid ${process.getuid?.()}`}; why-rebuilt --build 2 prints ${afterOut.split('\n').length} lines)\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
