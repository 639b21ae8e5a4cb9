/**
 * Cold build and no-op rebuild of the example (examples/hello) with the real CLI, run as the
 * current user (run it as an ordinary user with a subuid range for the rootless figures).
 * Usage: node dist/bench/build.js [runs]
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(repo, 'bin', 'stacker.js');
const runs = Number(process.argv[2] ?? 5);

function timeBuild(cwd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`stacker ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return ms;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (!existsSync(join(repo, 'examples', 'base', 'oci', 'index.json'))) {
  throw new Error('examples/base/oci is missing: run scripts/make-busybox-oci.sh examples/base/oci first');
}
const work = mkdtempSync(join(tmpdir(), 'stacker-bench-'));
cpSync(join(repo, 'examples'), join(work, 'examples'), { recursive: true });
const hello = join(work, 'examples', 'hello');
const cold: number[] = [];
const noop: number[] = [];
for (let i = 0; i < runs; i++) {
  timeBuild(hello, ['clean']);
  cold.push(timeBuild(hello, ['build']));
  noop.push(timeBuild(hello, ['build']));
}
const nodeStart: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  spawnSync(process.execPath, ['-e', '0']);
  nodeStart.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
timeBuild(hello, ['clean']);
rmSync(work, { recursive: true, force: true });
process.stdout.write(`| cold build of examples/hello (2 layers) | ${median(cold).toFixed(0)} ms |\n`);
process.stdout.write(`| no-op rebuild | ${median(noop).toFixed(0)} ms |\n`);
process.stdout.write(`| node -e 0 (floor) | ${median(nodeStart).toFixed(0)} ms |\n`);
process.stdout.write(`(medians of ${runs} runs, uid ${process.getuid?.()})\n`);
