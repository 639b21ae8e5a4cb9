/**
 * Child process of bench/pack.ts: packs one tree and reports its own peak RSS
 * (process.resourceUsage().maxRSS, in KiB) as one JSON line, so the figure is not polluted by
 * the parent's corpus building. Usage: node dist/bench/pack-rss.js <tree> <outFile>
 */
import { rmSync } from 'node:fs';
import { packLayer } from '../src/oci/layer/pack.js';

const [tree, out] = process.argv.slice(2);
if (!tree || !out) throw new Error('usage: pack-rss.js <tree> <outFile>');
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
const r = await packLayer(tree, { outFile: out });
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
rmSync(out, { force: true });
process.stdout.write(`${JSON.stringify({
  maxRssKiB: process.resourceUsage().maxRSS, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6,
  uncompressedSize: r?.uncompressedSize ?? 0, size: r?.size ?? 0,
})}\n`);
