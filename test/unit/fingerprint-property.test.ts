/**
 * Property: over random trees and random mutations, an import's digest changes if and only if
 * something that a copy of the import would carry changed (a name, type, permission bits, owner,
 * content, symlink target, hardlink structure), and never for a touch, a same-content rewrite,
 * a same-mode chmod or a rename there and back. The stat cache is used as a build would use it
 * (rows loaded from and saved to a real index between checks, real clock, default racy windows)
 * and must always agree with a digest computed without it: no stale hit, ever.
 *
 * "Changed" is decided by an independent model (a naive listing with full content hashes), and
 * each mutation also declares what it expects, which guards the model itself.
 * STACKER_PROPERTY_ITERATIONS scales the run (default 250 per seed, 3 seeds).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildIndex } from '../../src/cache/index.js';
import { StatCacheView } from '../../src/fingerprint/stat-cache.js';
import { digestInput } from '../../src/fingerprint/tree-digest.js';

const ITERATIONS = Number(process.env.STACKER_PROPERTY_ITERATIONS ?? 250);
const IS_ROOT = process.getuid?.() === 0;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Entry {
  rel: string;
  abs: string;
  kind: 'file' | 'dir' | 'symlink';
}

function list(root: string): Entry[] {
  const out: Entry[] = [];
  const visit = (abs: string, rel: string): void => {
    for (const name of readdirSync(abs)) {
      const a = join(abs, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(a);
      const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
      out.push({ rel: r, abs: a, kind });
      if (kind === 'dir') visit(a, r);
    }
  };
  visit(root, '');
  return out;
}

/** The independent model: everything a faithful copy would carry, as one string. */
function model(root: string): string {
  const rels = ['', ...list(root).map((e) => e.rel)].sort();
  const inodes = new Map<string, string>();
  return rels
    .map((rel) => {
      const abs = rel === '' ? root : join(root, rel);
      const st = lstatSync(abs);
      let payload = '';
      let link = '';
      if (st.isFile()) {
        payload = createHash('sha256').update(readFileSync(abs)).digest('hex');
        if (st.nlink > 1) {
          const id = `${st.dev}:${st.ino}`;
          const first = inodes.get(id);
          if (first === undefined) inodes.set(id, rel);
          else link = first;
        }
      } else if (st.isSymbolicLink()) payload = readlinkSync(abs);
      const type = st.isFile() ? 'f' : st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'o';
      return JSON.stringify([rel, type, st.mode & 0o7777, st.uid, st.gid, payload, link]);
    })
    .join('\n');
}

interface Mutation {
  name: string;
  /** What the mutation expects; undefined when only the model can tell (e.g. it depends on links). */
  real: boolean | undefined;
}

function makeMutator(root: string, rnd: () => number) {
  let counter = 0;
  const pick = <T>(xs: readonly T[]): T | undefined => (xs.length === 0 ? undefined : xs[Math.floor(rnd() * xs.length)]);
  const names = ['a', 'B', 'é', 'a b', 'x.txt', '.hidden', 'z-9'];
  const freshName = (): string => `${pick(names)}${counter++}`;
  const dirs = (): string[] => [root, ...list(root).filter((e) => e.kind === 'dir').map((e) => e.abs)];
  const files = (): Entry[] => list(root).filter((e) => e.kind === 'file');
  const links = (): Entry[] => list(root).filter((e) => e.kind === 'symlink');
  const randomBytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  const none: Mutation = { name: 'nothing', real: false };

  const ops: Array<() => Mutation> = [
    () => {
      const f = pick(files().filter((e) => lstatSync(e.abs).size > 0));
      if (!f) return none;
      const buf = readFileSync(f.abs);
      const st = lstatSync(f.abs);
      const i = Math.floor(rnd() * buf.length);
      buf[i] = buf[i]! ^ (1 + Math.floor(rnd() * 255));
      writeFileSync(f.abs, buf);
      if (rnd() < 0.5) utimesSync(f.abs, st.atime, st.mtime); // same size, old mtime: only ctime tells
      return { name: `byte edit ${f.rel}`, real: true };
    },
    () => {
      const f = pick(files());
      if (!f) return none;
      writeFileSync(f.abs, randomBytes(1), { flag: 'a' });
      return { name: `append ${f.rel}`, real: true };
    },
    () => {
      const f = pick(files());
      if (!f) return none;
      writeFileSync(f.abs, readFileSync(f.abs));
      return { name: `rewrite same content ${f.rel}`, real: false };
    },
    () => {
      const e = pick([...files(), ...list(root).filter((x) => x.kind === 'dir')]);
      if (!e) return none;
      const t = new Date(Date.now() - Math.floor(rnd() * 1e9));
      utimesSync(e.abs, t, t);
      return { name: `touch ${e.rel}`, real: false };
    },
    () => {
      const f = pick(files());
      if (!f) return none;
      const mode = pick([0o644, 0o600, 0o755, 0o4755, 0o640])!;
      const real = (lstatSync(f.abs).mode & 0o7777) !== mode;
      chmodSync(f.abs, mode);
      return { name: `chmod ${mode.toString(8)} ${f.rel}`, real };
    },
    () => {
      const d = pick(dirs())!;
      const mode = pick([0o755, 0o700, 0o750, 0o1777, 0o2755])!;
      const real = (lstatSync(d).mode & 0o7777) !== mode;
      chmodSync(d, mode);
      return { name: `chmod dir ${mode.toString(8)} ${d}`, real };
    },
    () => {
      if (!IS_ROOT) return none;
      const e = pick(list(root));
      if (!e) return none;
      const st = lstatSync(e.abs);
      const uid = pick([0, 1, 1000, 65534])!;
      const gid = rnd() < 0.5 ? st.gid : pick([0, 1, 1000, 65534])!;
      lchownSync(e.abs, uid, gid);
      // chown clears setuid/setgid on files even when the owner stays: then only the model knows.
      const clearsBits = e.kind === 'file' && (st.mode & 0o6000) !== 0;
      const real = uid !== st.uid || gid !== st.gid ? true : clearsBits ? undefined : false;
      return { name: `chown ${uid}:${gid} ${e.rel}`, real };
    },
    () => {
      const e = pick(list(root));
      if (!e) return none;
      const targets = dirs().filter((d) => d !== e.abs && !d.startsWith(`${e.abs}/`));
      const to = join(pick(targets)!, freshName());
      renameSync(e.abs, to);
      return { name: `rename ${e.rel} -> ${to}`, real: true };
    },
    () => {
      const e = pick(list(root));
      if (!e) return none;
      renameSync(e.abs, `${e.abs}.tmp`);
      renameSync(`${e.abs}.tmp`, e.abs);
      return { name: `rename there and back ${e.rel}`, real: false };
    },
    () => {
      const e = pick(list(root));
      if (!e) return none;
      rmSync(e.abs, { recursive: true });
      return { name: `delete ${e.rel}`, real: true };
    },
    () => {
      const p = join(pick(dirs())!, freshName());
      writeFileSync(p, randomBytes(Math.floor(rnd() * 64)));
      return { name: `add file ${p}`, real: true };
    },
    () => {
      const p = join(pick(dirs())!, freshName());
      mkdirSync(p);
      return { name: `add empty dir ${p}`, real: true };
    },
    () => {
      const p = join(pick(dirs())!, freshName());
      symlinkSync(pick(['a0', '../x', '/etc/passwd', 'nowhere', 'é'])!, p);
      return { name: `add symlink ${p}`, real: true };
    },
    () => {
      const l = pick(links());
      if (!l) return none;
      const target = pick(['a0', '../x', '/etc/passwd', 'nowhere', 'é', 'a1'])!;
      const real = readlinkSync(l.abs) !== target;
      const st = lstatSync(l.abs);
      unlinkSync(l.abs);
      symlinkSync(target, l.abs);
      if (IS_ROOT) lchownSync(l.abs, st.uid, st.gid); // keep the owner: only the target may differ
      return { name: `retarget ${l.rel} -> ${target}`, real };
    },
    () => {
      const f = pick(files());
      if (!f) return none;
      const p = join(pick(dirs())!, freshName());
      linkSync(f.abs, p);
      return { name: `hardlink ${f.rel} as ${p}`, real: true };
    },
    () => {
      // A new inode with the same content, mode and owner: a copy would carry nothing new
      // (unless it breaks a hardlink, which the model decides).
      const f = pick(files());
      if (!f) return none;
      const st = lstatSync(f.abs);
      copyFileSync(f.abs, `${f.abs}.new`);
      if (IS_ROOT) lchownSync(`${f.abs}.new`, st.uid, st.gid); // before chmod: chown clears setuid
      chmodSync(`${f.abs}.new`, st.mode & 0o7777);
      renameSync(`${f.abs}.new`, f.abs);
      return { name: `replace inode ${f.rel}`, real: st.nlink === 1 ? false : undefined };
    },
    () => none,
  ];
  return (): Mutation => pick(ops)!();
}

function seedTree(root: string, rnd: () => number): void {
  mkdirSync(join(root, 'd0', 'd1'), { recursive: true });
  mkdirSync(join(root, 'empty'));
  for (let i = 0; i < 12; i++) {
    const dir = [root, join(root, 'd0'), join(root, 'd0', 'd1')][i % 3]!;
    writeFileSync(join(dir, `f${i}`), Buffer.from(Array.from({ length: Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256))));
  }
  symlinkSync('f0', join(root, 'l0'));
  symlinkSync('../f1', join(root, 'd0', 'l1'));
}

for (const seed of [0xc0ffee, 42, 20260101]) {
  test(`property (seed ${seed}): the digest changes iff the input really changed; cache never stale`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'stacker-prop-'));
    const root = join(dir, 'input');
    mkdirSync(root);
    const rnd = mulberry32(seed);
    seedTree(root, rnd);
    const mutate = makeMutator(root, rnd);
    const ix = BuildIndex.open(join(dir, 'stacker'));

    const check = (): string => {
      const view = new StatCacheView(ix.loadStatCache(`${root}/`));
      const d = digestInput(root, view);
      ix.saveStatCache(view.changedRows());
      ix.deleteStatRows(view.stalePaths());
      totals.hits += view.stats.hits;
      totals.hashed += view.stats.hashedFiles;
      return d.digest;
    };
    const totals = { hits: 0, hashed: 0, changes: 0 };
    let prevModel = model(root);
    let prevDigest = check();
    for (let i = 0; i < ITERATIONS; i++) {
      const m = mutate();
      const curModel = model(root);
      const digest = check();
      const where = `seed ${seed}, iteration ${i}, ${m.name}`;
      const modelChanged = curModel !== prevModel;
      if (m.real !== undefined) assert.equal(modelChanged, m.real, `test model disagrees with the mutation: ${where}`);
      assert.equal(digest !== prevDigest, modelChanged, `digest ${modelChanged ? 'missed' : 'invented'} a change: ${where}`);
      assert.equal(digest, digestInput(root, new StatCacheView()).digest, `stale stat cache: ${where}`);
      if (modelChanged) totals.changes++;
      prevModel = curModel;
      prevDigest = digest;
    }
    ix.close();
    rmSync(dir, { recursive: true });
    // The cache must actually have been exercised, and both outcomes must have occurred.
    assert.ok(totals.hits > ITERATIONS, `stat cache hits: ${totals.hits}`);
    assert.ok(totals.changes > ITERATIONS / 4 && totals.changes < ITERATIONS, `real changes: ${totals.changes}`);
  });
}
