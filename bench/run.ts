/**
 * All benchmarks in one run on the same machine (issue 2): the example's cold build and no-op
 * rebuild (rootless when `--as USER` is given), layer packing throughput and memory, and the
 * latency of why-rebuilt/history, and the layout of a 1,000-node graph.
 * Usage: node dist/bench/run.js [--as USER] [--quick]
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const as = args.includes('--as') ? ['--as', args[args.indexOf('--as') + 1]!] : [];
const quick = args.includes('--quick') ? ['--quick'] : [];

function run(script: string, extra: string[]): void {
  process.stdout.write(`\n## ${script}\n\n`);
  const r = spawnSync(process.execPath, [join(here, script), ...extra], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}

run('build.js', ['5', ...as]);
run('pack.js', quick);
run('why.js', []);
run('graph.js', []);
