/**
 * Cold build and no-op rebuild of the example (examples/hello) with the real CLI.
 * Usage: node dist/bench/build.js [runs] [--as USER]
 * `--as USER` (from root) runs the CLI as that ordinary user with `runuser`: the rootless path,
 * with the user namespace; without it the CLI runs as the caller.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asUser, bareFloorArgv, bin, median, prefix, repo, runsArg } from './common.js';

const runs = runsArg(5);

function timeBuild(cwd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const argv = [...prefix, bin, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`stacker ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return ms;
}


if (!existsSync(join(repo, 'examples', 'base', 'oci', 'index.json'))) {
  throw new Error('examples/base/oci is missing: run scripts/make-busybox-oci.sh examples/base/oci first');
}
const work = mkdtempSync(join(tmpdir(), 'stacker-bench-'));
cpSync(join(repo, 'examples'), join(work, 'examples'), { recursive: true });
if (asUser !== undefined) spawnSync('chown', ['-R', asUser, work]);
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
  const argv = [...prefix, ...bareFloorArgv];
  spawnSync(argv[0]!, argv.slice(1));
  nodeStart.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
timeBuild(hello, ['clean']);
rmSync(work, { recursive: true, force: true });
process.stdout.write(`| cold build of examples/hello (2 layers) | ${median(cold).toFixed(0)} ms |\n`);
process.stdout.write(`| no-op rebuild | ${median(noop).toFixed(0)} ms |\n`);
process.stdout.write(`| \`node -e 0\` without NODE_EXTRA_CA_CERTS (floor) | ${median(nodeStart).toFixed(0)} ms |\n`);
process.stdout.write(`(medians of ${runs} runs, as ${asUser ?? `uid ${process.getuid?.()}`})\n`);
