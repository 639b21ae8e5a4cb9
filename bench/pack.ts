/**
 * Layer packing benchmark (issue 2, PEERS.md §5 G5/G6):
 *  1. throughput of packLayer (tar + sha256 diff_id + multi-member gzip-6 + sha256 digest, one
 *     pass) against `tar -c | gzip -6` of the same tree, GNU tar sorting names like we do;
 *  2. peak RSS of a child process packing a 4 GB layer (1 GB with --quick).
 * Usage: node dist/bench/pack.js [--quick] [--runs N]. Prints a markdown table for bench/README.md.
 * Corpora are built once under /var/tmp/stacker-bench (STACKER_BENCH_DIR) and reused.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packLayer } from '../src/oci/layer/pack.js';
import { unpackLayer } from '../src/oci/layer/unpack.js';
import { BENCH_DIR, bigCorpus, treeCorpus } from './pack-corpus.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const runsArg = args.indexOf('--runs');
const runs = runsArg >= 0 ? Number(args[runsArg + 1]) : quick ? 1 : 3;
const MB = 1e6;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

interface Run { seconds: number; cpuSeconds: number; tarBytes: number; outBytes: number }

async function ours(tree: string, out: string): Promise<Run> {
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const r = await packLayer(tree, { outFile: out });
  const cpu = process.cpuUsage(cpu0);
  if (!r) throw new Error('empty corpus');
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: (cpu.user + cpu.system) / 1e6, tarBytes: r.uncompressedSize, outBytes: r.size };
}

function baseline(tree: string, out: string): Run {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', 'set -o pipefail; tar -C "$1" --sort=name --numeric-owner -cf - . | gzip -6 > "$2"', 'bench', tree, out]);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`tar | gzip failed: ${r.stderr.toString()}`);
  const tarBytes = Number(execFileSync('bash', ['-c', 'gzip -dc "$1" | wc -c', 'bench', out], { encoding: 'utf8' }).trim());
  return { seconds, cpuSeconds: Number.NaN, tarBytes, outBytes: statSync(out).size }; // wall time is the figure
}

/** unpackLayer of the blob vs `gzip -dc | tar -x` into a fresh directory (informational, G9). */
async function unpackFigures(blob: string, tarBytes: number): Promise<{ ours: number; base: number }> {
  const dest = join(BENCH_DIR, 'unpack-dest');
  const fresh = (): void => { rmSync(dest, { recursive: true, force: true }); mkdirSync(dest); };
  fresh();
  let t0 = process.hrtime.bigint();
  await unpackLayer(blob, { destDir: dest, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', onWarning: () => {} });
  const ours = tarBytes / MB / (Number(process.hrtime.bigint() - t0) / 1e9);
  fresh();
  t0 = process.hrtime.bigint();
  execFileSync('bash', ['-c', 'gzip -dc "$1" | tar -x --numeric-owner -C "$2"', 'bench', blob, dest]);
  const base = tarBytes / MB / (Number(process.hrtime.bigint() - t0) / 1e9);
  rmSync(dest, { recursive: true, force: true });
  return { ours, base };
}

function rssChild(tree: string, out: string): { maxRssKiB: number; seconds: number; uncompressedSize: number } {
  const child = join(dirname(fileURLToPath(import.meta.url)), 'pack-rss.js');
  const r = spawnSync(process.execPath, [child, tree, out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('pack-rss child failed');
  return JSON.parse(r.stdout.trim()) as { maxRssKiB: number; seconds: number; uncompressedSize: number };
}

const log = (s: string): void => void process.stderr.write(`${s}\n`);

mkdirSync(BENCH_DIR, { recursive: true });
log(`cores ${availableParallelism()}, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}; building/reusing corpora in ${BENCH_DIR}`);
const tree = treeCorpus(quick);
const out = join(BENCH_DIR, 'out.tar.gz');
await ours(tree, out); // warm the page cache
const oursRuns: Run[] = [];
for (let i = 0; i < runs; i++) {
  oursRuns.push(await ours(tree, out));
  log(`packLayer run ${i + 1}: ${(oursRuns.at(-1)!.tarBytes / MB / oursRuns.at(-1)!.seconds).toFixed(1)} MB/s, load ${loadavg()[0]!.toFixed(1)}`);
}
const base = baseline(tree, join(BENCH_DIR, 'baseline.tar.gz'));
log(`tar | gzip -6: ${(base.tarBytes / MB / base.seconds).toFixed(1)} MB/s`);
rmSync(join(BENCH_DIR, 'baseline.tar.gz'), { force: true });
const unpack = await unpackFigures(out, oursRuns[0]!.tarBytes);
log(`unpack: ${unpack.ours.toFixed(1)} MB/s, gzip -dc | tar -x: ${unpack.base.toFixed(1)} MB/s`);
rmSync(out, { force: true });

log(`load now ${loadavg()[0]!.toFixed(1)}; packing the big layer in a child process`);
const bigBytes = quick ? 1 << 30 : 4 * (1 << 30);
const big = bigCorpus(bigBytes, 4);
const rss = rssChild(big, join(BENCH_DIR, 'big.tar.gz'));

const best = oursRuns.reduce((a, b) => (a.seconds < b.seconds ? a : b));
const mbps = (r: Run): number => r.tarBytes / MB / r.seconds;
const med = median(oursRuns.map(mbps));
const cpuMsPerMB = median(oursRuns.map((r) => (r.cpuSeconds / r.tarBytes) * MB * 1000));
const row = (what: string, o: string, b: string, t: string): string => `| ${what} | ${o} | ${b} | ${t} |`;
process.stdout.write([
  `Corpus: ${(best.tarBytes / MB).toFixed(0)} MB of tar (${quick ? '/usr/share/{doc,man,perl}' : '/usr/share + /usr/bin'}), warm cache, ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(1)} at the end; median of ${runs}.`,
  '',
  row('what', 'ours', 'baseline', 'target'),
  row('---', '---', '---', '---'),
  row('pack throughput (tar + diff_id + gzip-6 + digest)', `${med.toFixed(1)} MB/s`, `${mbps(base).toFixed(1)} MB/s (tar -c \\| gzip -6)`, '>= 50 MB/s'),
  row('pack CPU per MB (user+sys, all threads)', `${cpuMsPerMB.toFixed(1)} ms/MB = ${(availableParallelism() * 1000 / cpuMsPerMB).toFixed(0)} MB/s if ${availableParallelism()} cores were free`, '', ''),
  row('pack throughput, best run', `${mbps(best).toFixed(1)} MB/s`, '', ''),
  row('compressed size', `${(best.outBytes / MB).toFixed(0)} MB`, `${(base.outBytes / MB).toFixed(0)} MB`, 'within 2 %'),
  row('unpack throughput (gunzip + diff_id + safe extraction)', `${unpack.ours.toFixed(1)} MB/s`, `${unpack.base.toFixed(1)} MB/s (gzip -dc \\| tar -x)`, '>= 100 MB/s (PEERS G9)'),
  row(`peak RSS packing a ${(rss.uncompressedSize / 1e9).toFixed(1)} GB layer`, `${(rss.maxRssKiB / 1024).toFixed(0)} MiB (${(rss.uncompressedSize / MB / rss.seconds).toFixed(0)} MB/s)`, '', '< 150 MB'),
  '',
].join('\n'));
