/**
 * What `--jobs` buys: the same cold build with 1 job and with the default (the cores).
 * Usage: node dist/bench/parallel.js [runs] [--as USER]
 *
 * Two files on the offline busybox base (examples/base/oci), each with 4 independent layers and
 * one that imports from all of them:
 * - `wait`: each layer's run sleeps 1 s (a download, a compiler waiting on I/O): overlap is free.
 * - `pack`: each layer writes 48 MiB of incompressible data: the build is bound by packing
 *   (gzip on every core already), so overlap gains only what the rest of a layer leaves idle.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { asUser, bin, median, prefix, repo, runsArg } from './common.js';

const runs = runsArg(3);

function stacker(cwd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const argv = [...prefix, bin, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`stacker ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}


function file(run: (i: number) => string): string {
  const names = [1, 2, 3, 4].map((i) => `l${i}`);
  const layers = names.map((n, i) => `${n}:\n  from: {type: oci, url: "../base/oci:busybox"}\n  run: ${run(i)}\n`);
  const all = `all:\n  from: {type: oci, url: "../base/oci:busybox"}\n  imports:\n${names.map((n) => `    - stacker://${n}/etc/hostname\n`).join('')}  run: ls /stacker/imports\n`;
  return [...layers, all].join('');
}

const files: Record<string, string> = {
  wait: file((i) => `sleep 1; echo ${i} > /etc/hostname`),
  pack: file((i) => `head -c 50331648 /dev/urandom > /blob; echo ${i} > /etc/hostname`),
};

if (!existsSync(join(repo, 'examples', 'base', 'oci', 'index.json'))) {
  throw new Error('examples/base/oci is missing: run scripts/make-busybox-oci.sh examples/base/oci first');
}
const work = mkdtempSync(join(tmpdir(), 'stacker-bench-par-'));
cpSync(join(repo, 'examples', 'base'), join(work, 'base'), { recursive: true });
const rows: string[] = [];
for (const [name, text] of Object.entries(files)) {
  const dir = join(work, name);
  cpSync(join(repo, 'examples', 'hello'), dir, { recursive: true });
  writeFileSync(join(dir, 'stacker.yaml'), text);
  if (asUser !== undefined) spawnSync('chown', ['-R', asUser, work]);
  const times: Record<string, number[]> = { '1': [], default: [] };
  for (let i = 0; i < runs; i++) {
    for (const jobs of ['1', 'default']) {
      stacker(dir, ['clean']);
      times[jobs]!.push(stacker(dir, ['build', ...(jobs === '1' ? ['--jobs', '1'] : [])]));
    }
  }
  stacker(dir, ['clean']);
  const one = median(times['1']!);
  const many = median(times.default!);
  rows.push(`| ${name} (4 + 1 layers) | ${one.toFixed(0)} ms | ${many.toFixed(0)} ms | ${(one / many).toFixed(2)}x |`);
}
rmSync(work, { recursive: true, force: true });
process.stdout.write(`| file | --jobs 1 | default (${availableParallelism()}) | speed-up |\n| --- | --- | --- | --- |\n${rows.join('\n')}\n`);
process.stdout.write(`(cold builds, medians of ${runs} runs, as ${asUser ?? `uid ${process.getuid?.()}`}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);
