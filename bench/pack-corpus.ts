/**
 * Corpora for bench/pack.ts, built once under /var/tmp/stacker-bench and reused:
 *  - tree: a copy of /usr/share + /usr/bin (~1 GB, ~55 k entries, the corpus of PEERS.md §5.1),
 *    or /usr/share/{doc,man,perl} with --quick (~230 MB);
 *  - big: a few large files, half incompressible and half text-like, for the memory bound.
 */
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const BENCH_DIR = process.env.STACKER_BENCH_DIR ?? '/var/tmp/stacker-bench';

function ready(dir: string): boolean {
  return existsSync(join(dir, '.complete'));
}

/** A copy of system directories (a copy, so the figures do not move when the system changes). */
export function treeCorpus(quick: boolean): string {
  const dir = join(BENCH_DIR, quick ? 'tree-quick' : 'tree');
  if (ready(dir)) return join(dir, 'root');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'root/usr/share'), { recursive: true });
  const sources = quick ? ['/usr/share/doc', '/usr/share/man', '/usr/share/perl'] : ['/usr/share', '/usr/bin'];
  for (const src of sources) {
    const dest = src === '/usr/share' || src === '/usr/bin' ? join(dir, 'root/usr') : join(dir, 'root/usr/share');
    execFileSync('cp', ['-a', src, dest]);
  }
  writeFileSync(join(dir, '.complete'), '');
  return join(dir, 'root');
}

/** `files` files of `size` bytes; each is half random bytes, half repetitive text. */
export function bigCorpus(totalBytes: number, files: number): string {
  const dir = join(BENCH_DIR, `big-${totalBytes}`);
  if (ready(dir)) return join(dir, 'root');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'root'), { recursive: true });
  const chunk = Buffer.alloc(1 << 20);
  const perFile = Math.floor(totalBytes / files);
  for (let f = 0; f < files; f++) {
    const fd = openSync(join(dir, 'root', `big-${f}.bin`), 'w');
    for (let off = 0; off < perFile; off += chunk.length) {
      const n = Math.min(chunk.length, perFile - off);
      if ((off / chunk.length) % 2 === 0) randomFillSync(chunk, 0, n);
      else chunk.write(`file ${f} block ${off} `.repeat(Math.ceil(n / 24)).slice(0, n), 0, 'latin1');
      writeSync(fd, chunk, 0, n);
    }
    closeSync(fd);
  }
  writeFileSync(join(dir, '.complete'), '');
  return join(dir, 'root');
}
