import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildIndex } from '../../src/cache/index.js';
import { sha256Digest } from '../../src/core/digest.js';

const cacheModule = new URL('../../src/cache/index.js', import.meta.url).href;

/**
 * A child that records nodes, build rows and stat rows in a loop and prints the number of each
 * committed iteration. `offset` keeps keys distinct across rounds.
 */
function writerScript(dir: string, offset: number): string {
  return `
import { createHash } from 'node:crypto';
import { BuildIndex } from ${JSON.stringify(cacheModule)};
const sha = (s) => 'sha256:' + createHash('sha256').update(s).digest('hex');
const ix = BuildIndex.open(${JSON.stringify(dir)});
const build = ix.startBuild({ argv: ['build'], toolVersion: 'test' });
for (let i = ${offset}; ; i++) {
  const doc = JSON.stringify({ i, pad: 'x'.repeat(2000) });
  ix.recordNode({ key: sha(doc), layer: 'l' + (i % 7), inputDocument: doc, manifestDigest: sha('m' + i),
    configDigest: sha('c' + i), layers: [], snapshot: [sha('u' + i)], buildOnly: false });
  ix.recordBuildNode(build, { layer: 'l' + i, key: sha(doc), status: 'built', durationMs: i });
  const rows = [];
  for (let j = 0; j < 50; j++) rows.push({ path: '/f/' + i + '/' + j, dev: 1n, ino: BigInt(j), size: 1n,
    mtimeNs: 1n, ctimeNs: 1n, mode: 33188, digest: sha('f' + j), recordedAtNs: 2n });
  ix.saveStatCache(rows);
  process.stdout.write(i + '\\n');
}
`;
}

/** Runs the writer until it reports `commits` commits past `offset`, SIGKILLs it, returns the last committed i. */
function runAndKill(dir: string, offset: number, commits: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', writerScript(dir, offset)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let last = -1;
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      out += s;
      const lines = out.split('\n');
      out = lines.pop() ?? '';
      for (const l of lines) last = Number(l);
      if (!killed && last >= offset + commits) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (s: Buffer) => (err += s.toString()));
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited ${code}: ${err}`));
      else resolve(last);
    });
  });
}

test('crash safety: a writer killed with SIGKILL mid-loop leaves a consistent index with every commit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stacker-crash-'));
  let offset = 0;
  const committed: number[] = [];
  for (const commits of [40, 150, 7]) {
    const last = await runAndKill(dir, offset, commits);
    assert.ok(last >= offset + commits);
    const ix = BuildIndex.open(dir);
    assert.deepEqual(ix.checkIntegrity(), []);
    // Every iteration the child reported committed is there, whole.
    for (let i = offset; i <= last; i++) committed.push(i);
    const keys = committed.map((i) => sha256Digest(JSON.stringify({ i, pad: 'x'.repeat(2000) })));
    const found = ix.lookupMany(keys);
    assert.equal(found.size, keys.length);
    for (const k of keys) assert.equal(found.get(k)?.key, k);
    const stat = ix.loadStatCache('/f/');
    for (let i = offset; i <= last; i++) assert.ok(stat.has(`/f/${i}/49`), `stat rows of iteration ${i}`);
    const builds = ix.listBuilds(100);
    assert.equal(builds[0]!.outcome, 'running', 'a killed build stays "running" (its pid is gone)');
    ix.close();
    offset = last + 1000;
  }
  rmSync(dir, { recursive: true });
});

test('concurrent first opens apply the migrations once and both succeed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stacker-race-'));
  const script = `
import { BuildIndex } from ${JSON.stringify(cacheModule)};
const ix = BuildIndex.open(${JSON.stringify(dir)});
process.stdout.write(String(ix.schemaVersion()));
ix.close();
`;
  const run = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (s: Buffer) => (out += s.toString()));
      c.stderr.on('data', (s: Buffer) => (err += s.toString()));
      c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
    });
  const results = await Promise.all([run(), run(), run()]);
  assert.deepEqual(results, ['1', '1', '1']);
  const ix = BuildIndex.open(dir);
  assert.deepEqual(ix.checkIntegrity(), []);
  ix.close();
  rmSync(dir, { recursive: true });
});
