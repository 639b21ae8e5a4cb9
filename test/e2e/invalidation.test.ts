/**
 * Property test of invalidation, at the CLI, as the unprivileged user: after any sequence of
 * random edits to a project's inputs, `stacker why-rebuilt --json` (the planner's dry run) names
 * exactly the layers whose inputs changed and every layer that depends on them — no more, no
 * fewer — and a real `build` rebuilds exactly those. The oracle is a model of the project
 * (test/e2e/invalidation-model.ts) that knows the DAG and what each layer imports, not how
 * stacker hashes. Times never count (`touch`, `touch -d`, same-size rewrites with the mtime put
 * back), comments and whitespace in stacker.yaml never count; content, names, modes, symlink
 * targets, types, run text, environment and labels always do.
 *
 * A fixed seed by default; STACKER_INVALIDATION_SEED=random draws a new one. Replay a failure:
 * STACKER_INVALIDATION_SEED=<seed printed by the test> (and
 * STACKER_INVALIDATION_STEPS=<n> to change the number of mutations, default 80).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { parse } from 'yaml';
import { busyboxLayout, builtLayers, cleanup, execOk, getRig, makeProject, runAsUser, runStacker, type Project } from './rig.js';
import {
  expectedRebuilds, modelKeys, mutate, normalizeParsed, ownSignature, pickKind, Rng, shuffledKinds, semanticYaml, withDescendants, Workspace,
  type Applied, type Constraints, type FsNode, type LayerModel, type ProjectModel,
} from './invalidation-model.js';

interface WhyLayer { layer: string; state: string; reasons: { kind: string }[] }
interface WhyJson { mode: string; upToDate: boolean; layers: WhyLayer[] }

const OCI: Array<[string, string]> = [['type', 'oci'], ['url', 'base/oci:busybox']];
const built = (tag: string): Array<[string, string]> => [['type', 'built'], ['tag', tag]];
const file = (content: string | Buffer, mode = 0o644): FsNode => ({ type: 'file', content: Buffer.from(content), mode });
const dir = (mode = 0o755): FsNode => ({ type: 'dir', mode });
const link = (target: string): FsNode => ({ type: 'symlink', target });

/**
 * Ten layers: two bases from the busybox layout, chains of built parents, stacker:// imports of a
 * file and of a directory, a `from: tar stacker://` base, two build_only layers, `dest` imports,
 * a file imported by three layers, a symlink imported on its own, and nested directories with
 * symlinks in them. Runs copy their imports and never read them, so any content builds.
 */
function initialModel(): ProjectModel {
  const fs = new Map<string, FsNode>([
    ['base.sh', file('#!/bin/sh\necho base\n', 0o755)],
    ['conf', dir()], ['conf/a.txt', file('alpha\n')], ['conf/b.bin', file(Buffer.from([0, 1, 2, 255, 10, 13]))],
    ['conf/link', link('a.txt')], ['conf/sub', dir()], ['conf/sub/c.txt', file('charlie\n', 0o600)],
    ['conf/sub/up', link('../a.txt')], ['conf/sub/deep', dir(0o750)], ['conf/sub/deep/d.txt', file('delta\n')],
    ['tools', dir()], ['tools/tool', file('#!/bin/sh\necho tool\n', 0o755)], ['tools/ln', link('tool')],
    ['tools/data', dir()], ['tools/data/x.bin', file(Buffer.alloc(64, 7))],
    ['lib.conf', file('level=2\n')], ['current', link('lib.conf')],
    ['libdir', dir()], ['libdir/one', dir()], ['libdir/one/1.txt', file('one\n')], ['libdir/two.txt', file('two\n')],
    ['appdir', dir()], ['appdir/main.txt', file('main\n')], ['appdir/cfg', dir()], ['appdir/cfg/app.cfg', file('x=1\n')],
    ['appdir/cfg/alias', link('app.cfg')],
    ['shared.txt', file('shared by side, fromtar and solo\n')],
    ['sidedir', dir()], ['sidedir/s1.txt', file('s1\n')], ['sidedir/nested', dir()], ['sidedir/nested/s2.txt', file('s2\n')],
    ['helperdir', dir()], ['helperdir/h.txt', file('h\n')], ['helperdir/more', dir()], ['helperdir/more/h2.txt', file('h2\n')],
    ['helperdir/more/hl', link('h2.txt')],
    ['final.txt', file('final\n')],
    ['tardest', dir()], ['tardest/t1.txt', file('t1\n')], ['tardest/tsub', dir()], ['tardest/tsub/t2.txt', file('t2\n')],
    ['tardest/tl', link('t1.txt')],
    ['solodir', dir()], ['solodir/solo.txt', file('solo\n')], ['solodir/x', dir()], ['solodir/x/y', dir()], ['solodir/x/y/z.txt', file('z\n')],
    ['notes', dir()], ['notes/todo.txt', file('not imported by anything\n')],
  ]);
  const local = (path: string, dest?: string) => (dest === undefined ? { kind: 'local' as const, path } : { kind: 'local' as const, path, dest });
  const stacker = (url: string) => ({ kind: 'stacker' as const, url });
  const copyAll = (name: string): string[] => ['mkdir -p /imp', `cp -a /stacker/imports /imp/${name}`];
  const layers: LayerModel[] = [
    { name: 'base', from: OCI, buildOnly: false, imports: [local('base.sh'), local('conf')], run: copyAll('base'), env: { MODE: 'base' }, labels: {} },
    { name: 'tools', from: OCI, buildOnly: true, imports: [local('tools')], run: ['mkdir -p /out', 'cp -a /stacker/imports/tools/. /out/', 'tar -cf /out.tar -C /out .'], env: {}, labels: {} },
    { name: 'lib', from: built('base'), buildOnly: false, imports: [local('lib.conf'), local('current'), local('libdir')], run: copyAll('lib'), env: { LEVEL: '2' }, labels: {} },
    { name: 'app', from: built('lib'), buildOnly: false, imports: [stacker('stacker://tools/out/tool'), local('appdir')], run: copyAll('app'), env: {}, labels: { 'org.example.a': 'app' } },
    { name: 'side', from: built('base'), buildOnly: false, imports: [local('shared.txt'), local('sidedir')], run: copyAll('side'), env: {}, labels: {} },
    { name: 'helper', from: built('side'), buildOnly: true, imports: [local('helperdir')], run: ['mkdir -p /helper', 'cp -a /stacker/imports/helperdir/. /helper/'], env: {}, labels: {} },
    { name: 'final', from: built('app'), buildOnly: false, imports: [stacker('stacker://helper/helper'), local('final.txt')], run: copyAll('final'), env: {}, labels: {} },
    { name: 'fromtar', from: [['type', 'tar'], ['url', 'stacker://tools/out.tar']], buildOnly: false, imports: [local('tardest/', '/tardest/'), local('shared.txt', '/shared/')], run: null, env: {}, labels: { 'org.example.b': 'tar' } },
    { name: 'solo', from: OCI, buildOnly: false, imports: [local('solodir', '/solo/'), local('shared.txt')], run: copyAll('solo'), env: {}, labels: {} },
    { name: 'leaf', from: built('side'), buildOnly: false, imports: [], run: ['echo leaf > /leaf'], env: { APP_OPT: 'x' }, labels: {} },
  ];
  return { fs, layers, style: 1 };
}

const CONSTRAINTS: Constraints = {
  pinned: new Set(['tools/tool']),
  unrelatedDir: 'notes',
  optionalImport: 'notes/todo.txt',
  reparent: { layer: 'leaf', parents: ['side', 'base', 'lib'] },
  leaves: ['leaf', 'solo', 'final'],
  dests: ['/tardest/', '/shared/', '/placed/', '/solo/'],
};

function checkYaml(text: string, layers: readonly LayerModel[]): void {
  assert.deepEqual(normalizeParsed(parse(text)), semanticYaml(layers), `the rendered stacker.yaml does not mean what the model says (a test bug):\n${text}`);
}

/** Wall time spent per kind of operation (reported as a diagnostic, never asserted). */
const spent = new Map<string, { n: number; ms: number }>();
async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    const s = spent.get(what) ?? { n: 0, ms: 0 };
    s.n++;
    s.ms += performance.now() - t0;
    spent.set(what, s);
  }
}
const spentText = (): string => [...spent].map(([k, s]) => `${k} ${s.n}x ${(s.ms / 1000).toFixed(1)} s (mean ${Math.round(s.ms / s.n)} ms)`).join('; ');

/** The layers the planner's dry run would rebuild, with their reasons. */
async function dryRun(p: Project): Promise<{ names: string[]; layers: WhyLayer[] }> {
  const r = await timed('why-rebuilt', () => runStacker(p, ['why-rebuilt', '--json']));
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as WhyJson;
  const layers = j.mode === 'dry-run' ? j.layers.filter((l) => l.state === 'would-rebuild') : [];
  assert.equal(j.upToDate, layers.length === 0, r.stdout);
  return { names: layers.map((l) => l.layer).sort(), layers };
}

async function makeWorkspace(m: ProjectModel): Promise<{ p: Project; ws: Workspace }> {
  const rig = await getRig();
  const p = await makeProject({});
  await p.copyIn(await busyboxLayout(), 'base/oci');
  const ws = new Workspace(p.dir, m, rig.user.viaRunuser ? { uid: rig.user.uid, gid: rig.user.gid } : undefined, {
    runAsOwner: async (cmd, args) => {
      const r = await runAsUser(cmd, args, p.dir);
      assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
    },
    run: async (cmd, args) => {
      await execOk(cmd, args);
    },
    checkYaml,
  });
  await ws.materialize();
  return { p, ws };
}

/** A seed that draws every mutation kind, undos and builds (any seed must pass). */
const DEFAULT_SEED = 1093268248;

describe('invalidation: random mutations rebuild exactly the dependent layers (unprivileged, end to end)', () => {
  after(cleanup);

  test('a seeded sequence of mutations, undos and builds: dry runs and builds against the model', async (t) => {
    spent.clear();
    // A fixed seed by default, so CI is repeatable; `random` explores new sequences.
    const asked = process.env.STACKER_INVALIDATION_SEED;
    const seed = asked === 'random' ? randomInt(2 ** 31) : asked !== undefined ? Number(asked) : DEFAULT_SEED;
    const steps = Number(process.env.STACKER_INVALIDATION_STEPS ?? 80);
    t.diagnostic(`seed ${seed}, ${steps} mutations (replay: STACKER_INVALIDATION_SEED=${seed})`);
    const r = new Rng(seed);
    const m = initialModel();
    const { p, ws } = await makeWorkspace(m);
    const names = m.layers.map((l) => l.name).sort();

    /** Keys of every state built so far (what the index can hit), and each layer's own inputs built so far. */
    const builtKeys = new Set<string>();
    const builtOwn = new Map<string, Set<string>>(names.map((n) => [n, new Set<string>()]));
    const log: string[] = [];
    const context = (): string => `seed ${seed} (replay: STACKER_INVALIDATION_SEED=${seed}); last steps:\n  ${log.slice(-12).join('\n  ')}`;

    const buildAndCheck = async (): Promise<void> => {
      const expected = expectedRebuilds(m, builtKeys);
      const b = await timed('build', () => runStacker(p, ['build']));
      assert.equal(b.code, 0, `${b.stderr}${b.stdout}\n${context()}`);
      log.push(`build: rebuilt ${builtLayers(b.stdout).sort().join(' ') || 'nothing'}`);
      assert.deepEqual(builtLayers(b.stdout).sort(), expected, `build rebuilt other layers than the model expects\n${context()}`);
      for (const k of modelKeys(m).values()) builtKeys.add(k);
      for (const l of m.layers) builtOwn.get(l.name)!.add(ownSignature(m, l));
      const after = await dryRun(p);
      assert.deepEqual(after.names, [], `right after a build, the dry run still wants to rebuild\n${context()}`);
      // Two no-ops, out of the racy window of the last writes: the first leaves a no-op stamp,
      // the second is answered from it by bin/stacker.js (its build goes to the history journal).
      // The mutations that follow must each defeat the stamp, or the next build misses them.
      await new Promise((res) => setTimeout(res, 150));
      for (let i = 0; i < 2; i++) {
        const n = await timed('no-op build', () => runStacker(p, ['build']));
        assert.equal(n.code, 0, `${n.stderr}${n.stdout}\n${context()}`);
        assert.deepEqual(builtLayers(n.stdout), [], `a no-op build rebuilt\n${context()}`);
      }
      if (existsSync(p.path('.stacker/history-journal.ndjson'))) fastNoops++;
    };

    let fastNoops = 0;
    await buildAndCheck();
    assert.deepEqual(log, [`build: rebuilt ${names.join(' ')}`]);

    const stack: Applied[] = [];
    // Each kind of mutation at least once, early; then drawn by weight.
    const firstKinds = shuffledKinds(r);
    const counts = new Map<string, number>();
    let sinceBuild = 0;
    let nextBuild = 10 + r.int(5);
    let builds = 1;
    for (let step = 1; step <= steps; step++) {
      let what: string;
      let touched: string[];
      if (stack.length > 0 && (stack.length >= 6 || r.chance(0.3))) {
        const undo = stack.pop()!;
        await undo.undo();
        what = `undo (${undo.what})`;
        touched = undo.touched;
        counts.set('undo', (counts.get('undo') ?? 0) + 1);
      } else {
        let applied: Applied | undefined;
        const first = firstKinds.shift();
        if (first !== undefined) applied = await mutate(ws, r, first, CONSTRAINTS);
        while (applied === undefined) applied = await mutate(ws, r, pickKind(r), CONSTRAINTS);
        stack.push(applied);
        what = applied.what;
        touched = applied.touched;
        counts.set(applied.kind, (counts.get(applied.kind) ?? 0) + 1);
      }
      log.push(`step ${step}: ${what}${touched.length > 0 ? ` [inputs of ${touched.join(', ')}]` : ''}`);

      const expected = expectedRebuilds(m, builtKeys);
      assert.deepEqual([...withDescendants(m.layers, expected)].sort(), expected, 'model: the expected set is closed under descendants');
      const got = await dryRun(p);
      const odd = got.layers.filter((l) => !expected.includes(l.layer));
      assert.deepEqual(got.names, expected, `step ${step}: the dry run disagrees with the model\n${context()}\nreasons of the layers the model does not expect: ${JSON.stringify(odd, null, 1)}`);
      // A layer whose own inputs are in a state never built must name one of them, not only a
      // parent: a parent's change must not hide the layer's own.
      for (const l of m.layers) {
        if (builtOwn.get(l.name)!.has(ownSignature(m, l))) continue;
        const reasons = got.layers.find((x) => x.layer === l.name)?.reasons ?? [];
        assert.ok(reasons.some((x) => x.kind !== 'parent'), `step ${step}: ${l.name}'s own inputs changed, but its reasons are ${JSON.stringify(reasons)}\n${context()}`);
      }

      if (++sinceBuild >= nextBuild || step === steps) {
        await buildAndCheck();
        builds++;
        sinceBuild = 0;
        nextBuild = 10 + r.int(5);
      }
    }
    t.diagnostic(spentText());
    t.diagnostic(`${builds} builds; mutations: ${[...counts].sort().map(([k, n]) => `${k} ${n}`).join(', ')}`);
    assert.equal(fastNoops, builds, 'every second no-op was answered from its stamp');
  });

  test('racily clean: a same-size rewrite with the mtime put back is seen, and a stat row recorded within the racy window is not trusted', async (t) => {
    spent.clear();
    const m: ProjectModel = {
      fs: new Map<string, FsNode>([['in', dir()], ['in/f.txt', file('XXXXXXXX\n')], ['in/g.txt', file('g\n')]]),
      layers: [{ name: 'one', from: OCI, buildOnly: false, imports: [{ kind: 'local', path: 'in' }], run: ['cp -a /stacker/imports/in /in'], env: {}, labels: {} }],
      style: 7,
    };
    const { p, ws } = await makeWorkspace(m);
    const b = await timed('build', () => runStacker(p, ['build']));
    assert.equal(b.code, 0, b.stderr + b.stdout);
    assert.deepEqual((await dryRun(p)).names, []);

    // Write, hash (a dry run), and rewrite at once: the size and the mtime (put back to the ns
    // after every write) stay the same throughout; only the content (and ctime) differ. Both
    // directions: away from the built content, and back to it.
    const f = 'in/f.txt';
    const original = Buffer.from('XXXXXXXX\n');
    const other = Buffer.from('YYYYYYYY\n');
    const mtime0 = (await lstat(ws.abs(f), { bigint: true })).mtimeNs;
    for (const [content, want] of [[other, ['one']], [original, []], [other, ['one']], [original, []]] as const) {
      await ws.rewrite(f, content, true);
      const st = await lstat(ws.abs(f), { bigint: true });
      assert.equal(st.mtimeNs, mtime0);
      assert.equal(st.size, BigInt(original.length));
      assert.deepEqual((await dryRun(p)).names, want, `after writing ${JSON.stringify(content.toString())}`);
    }

    // From user space a rewrite always moves ctime, which is part of the stat tuple; the racy
    // rule is for what ctime cannot tell: a change in the same timestamp granule as the hash
    // (coarse filesystem clocks). Make that state: a row with the file's current stat tuple but
    // the digest of other content, recorded within the racy window of the file's last change.
    const rig = await getRig();
    const absF = ws.abs(f);
    const st = await lstat(absF, { bigint: true });
    const newest = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
    const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
    /** Writes a row for the file's current stat tuple (unless digest is '-'); returns the row as loaded. */
    const forge = async (digest: string, recordedAtNs: bigint): Promise<{ digest: string; margin: number } | null> => {
      const script = `
        import { BuildIndex } from ${JSON.stringify(`${rig.stage.root}/dist/src/cache/index.js`)};
        import { lstatSync } from 'node:fs';
        const [stackerDir, path, digest, recordedAt] = process.argv.slice(1);
        const index = BuildIndex.open(stackerDir);
        if (digest !== '-') {
          const st = lstatSync(path, { bigint: true });
          index.saveStatCache([{ path, dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, mode: Number(st.mode), digest, recordedAtNs: BigInt(recordedAt) }]);
        }
        const row = index.loadStatCache(path).get(path);
        index.close();
        process.stdout.write(JSON.stringify(row === undefined ? null : { digest: row.digest, margin: row.margin }));
      `;
      const r = await timed('forge', () => runAsUser(rig.node, ['--input-type=module', '-e', script, p.path('.stacker'), absF, digest, String(recordedAtNs)], p.dir));
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { digest: string; margin: number } | null;
    };
    assert.equal((await forge('-', 0n))?.digest, sha(original), 'the dry runs left a row for the file');

    // Within the window (recorded 1 ms after the file's last change): not trusted, re-hashed.
    assert.equal((await forge(sha(other), newest + 1_000_000n))?.margin, 1_000_000);
    assert.deepEqual((await dryRun(p)).names, [], 'a racily clean row was trusted');
    const rehashed = await forge('-', 0n);
    assert.equal(rehashed?.digest, sha(original));
    assert.ok(rehashed.margin > 100_000_000, `the row was recorded again, outside the racy window (margin ${rehashed.margin} ns)`);

    // Control: the same forged row recorded well after the change is trusted, so the rule above
    // (and not some other check) is what made the dry run re-hash.
    await forge(sha(other), newest + 5_000_000_000n);
    assert.deepEqual((await dryRun(p)).names, ['one'], 'a row outside the racy window is used as it is');
    await forge(sha(original), newest + 5_000_000_000n);
    assert.deepEqual((await dryRun(p)).names, []);
    t.diagnostic(spentText());
  });
});
