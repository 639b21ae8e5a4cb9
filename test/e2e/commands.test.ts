import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { busyboxLayout, cleanup, exec, execOk, getRig, makeProject, runAsUser, runStacker, type ExecResult, type Project, type RigUser } from './rig.js';
import { isRoot, parseSubIds, userArgv, withLock } from './rig-user.js';

interface IndexJson { manifests: { digest: string; annotations?: Record<string, string> }[] }
interface Manifest { layers: { digest: string; size: number; mediaType: string }[]; annotations?: Record<string, string> }

async function tags(dir: string): Promise<Map<string, string>> {
  const idx = JSON.parse(await readFile(join(dir, 'oci', 'index.json'), 'utf8')) as IndexJson;
  return new Map(idx.manifests.map((m) => [m.annotations?.['org.opencontainers.image.ref.name'] ?? '', m.digest]));
}

async function manifest(dir: string, digest: string): Promise<Manifest> {
  return JSON.parse(await readFile(join(dir, 'oci', 'blobs', 'sha256', digest.slice(7)), 'utf8')) as Manifest;
}

/** The roots dir's entries, without the shared empty lower dir the overlay store makes on first use. */
async function visibleRoots(p: Project): Promise<string[]> {
  return (await readdir(p.path('roots'))).filter((n) => n !== '.empty').sort();
}

const YAML = `
one:
  from: {type: oci, url: base/oci:busybox}
  build_only: true
  run: |
    mkdir -p /dir/sub /locked
    echo hello > /dir/sub/f
    echo top > /test
    echo secret > /locked/s
    chown -R 1000:1000 /locked /dir
    chmod 700 /locked
    chmod 600 /locked/s
two:
  from: {type: built, tag: one}
  run: echo two > /two
  environment: {GREETING: hi}
  annotations: {org.example.note: hello}
`;

describe('stacker commands (unprivileged, end to end)', () => {
  let p: Project;
  before(async () => {
    p = await makeProject({ 'stacker.yaml': YAML });
    await p.copyIn(await busyboxLayout(), 'base/oci');
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });
  after(cleanup);

  test('--version, and no arguments prints the help with COMMANDS', async () => {
    const v = await runStacker(p, ['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^stacker version \S+/);
    const h = await runStacker(p, []);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /^COMMANDS:$/m);
    for (const c of ['build', 'recursive-build', 'publish', 'inspect', 'grab', 'chroot', 'clean', 'check', 'unpriv-setup']) assert.match(h.stdout, new RegExp(`^ {3}${c}\\b`, 'm'));
    const bad = await runStacker(p, ['frobnicate']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown command frobnicate/);
  });

  test('inspect: layers with digest prefix, size and media type; annotations; config; --json', async () => {
    const digest = (await tags(p.dir)).get('two')!;
    const m = await manifest(p.dir, digest);
    const r = await runStacker(p, ['inspect']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^two \\(${digest}\\)$`, 'm'));
    const lines = r.stdout.split('\n').filter((l) => /^\t\d+ /.test(l));
    assert.equal(lines.length, m.layers.length);
    m.layers.forEach((l, i) => assert.match(lines[i]!, new RegExp(`^\\t${i} ${l.digest.slice(7, 19)} [\\d.]+ [KMG]?B \\(${l.mediaType.replace(/[.+]/g, '\\$&')}\\)$`)));
    assert.match(r.stdout, /^ {2}org\.example\.note: hello$/m);
    assert.match(r.stdout, /^ {2}io\.stackeroci\.stacker\.stacker_yaml: $/m);
    assert.match(r.stdout, /"GREETING=hi"/);
    assert.ok(!/^one /m.test(r.stdout), 'build_only layers have no tag');

    const j = await runStacker(p, ['inspect', '--json', 'two']);
    assert.equal(j.code, 0, j.stderr);
    const parsed = JSON.parse(j.stdout) as { tag: string; manifest: string; layers: { digest: string }[]; annotations: Record<string, string>; config: { config: { Env: string[] } } }[];
    assert.equal(parsed.length, 1);
    assert.equal(parsed[0]!.manifest, digest);
    assert.deepEqual(parsed[0]!.layers.map((l) => l.digest), m.layers.map((l) => l.digest));
    assert.equal(parsed[0]!.annotations['org.example.note'], 'hello');
    assert.ok(parsed[0]!.config.config.Env.includes('GREETING=hi'));

    const missing = await runStacker(p, ['inspect', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no tag nope in .*oci/);
  });

  test('grab copies files and directories (build_only layers too, subuid-owned ones too) and leaves nothing else', async () => {
    const rig = await getRig();
    await runAsUser('mkdir', ['g'], p.dir);
    const g = p.path('g');
    const rootsBefore = await visibleRoots(p);
    for (const what of ['two:/two', 'one:/dir', 'one:/locked']) {
      const r = await runStacker(g, ['--work-dir', '..', 'grab', what]);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    }
    assert.deepEqual((await readdir(g)).sort(), ['dir', 'locked', 'two']);
    assert.equal(await readFile(join(g, 'two'), 'utf8'), 'two\n');
    assert.equal(await readFile(join(g, 'dir/sub/f'), 'utf8'), 'hello\n');
    assert.equal(await readFile(join(g, 'locked/s'), 'utf8'), 'secret\n');
    assert.equal((await stat(join(g, 'locked/s'))).uid, rig.user.uid, 'grabbed files belong to the user');
    assert.deepEqual(await visibleRoots(p), rootsBefore, 'no temporary mounts or dirs are left in the roots dir');

    const again = await runStacker(g, ['--work-dir', '..', 'grab', 'two:/two']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    const nofile = await runStacker(g, ['--work-dir', '..', 'grab', 'two:/no/such']);
    assert.equal(nofile.code, 1);
    assert.match(nofile.stderr, /\/no\/such does not exist in layer two/);
    const nolayer = await runStacker(g, ['--work-dir', '..', 'grab', 'three:/x']);
    assert.equal(nolayer.code, 1);
    assert.match(nolayer.stderr, /layer three has not been built/);
    assert.deepEqual((await readdir(g)).sort(), ['dir', 'locked', 'two']);
  });

  test('chroot: stdin attached, the image env, exit codes, changes discarded, the first layer by default', async () => {
    const r = await runStacker(p, ['chroot', 'two'], { input: '[ -f /test ] && echo yes\necho "greeting=$GREETING"\ntouch /newfile\necho done > /two\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^yes$/m);
    assert.match(r.stdout, /^greeting=hi$/m);
    assert.match(r.stderr, /This chroot is temporary/);
    const check = await runStacker(p, ['exec', 'two'], { input: '[ -e /newfile ] && echo present || echo absent\ncat /two\n' });
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stdout, 'absent\ntwo\n');
    const cmd = await runStacker(p, ['chroot', 'two', '--', 'sh', '-c', 'cat /two; exit 3']);
    assert.equal(cmd.code, 3);
    assert.equal(cmd.stdout, 'two\n');
    const first = await runStacker(p, ['chroot'], { input: '[ -f /test ] && [ ! -e /two ] && echo first-layer\n' });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, 'first-layer\n');
    assert.deepEqual((await readdir(p.path('roots'))).filter((n) => n.startsWith('.') && n !== '.empty'), []);
  });

  test('recursive-build builds two files in sub directories, the prerequisite first', async () => {
    const q = await makeProject({
      'a/stacker.yaml': 'config:\n  prerequisites: [../b/stacker.yaml]\natop:\n  from: {type: built, tag: bbase}\n  run: echo a > /a\n',
      'b/stacker.yaml': 'bbase:\n  from: {type: oci, url: base/oci:busybox}\n  run: echo b > /b\n',
    });
    await q.copyIn(await busyboxLayout(), 'base/oci');
    const r = await runStacker(q, ['recursive-build', '-d', '.']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const order = [...r.stdout.matchAll(/^building (\S+):/gm)].map((m) => m[1]);
    assert.deepEqual(order, ['bbase', 'atop']);
    assert.deepEqual([...(await tags(q.dir)).keys()].sort(), ['atop', 'bbase']);
    const again = await runStacker(q, ['recursive-build']);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /^building /m);
    assert.match(again.stdout, /^found cached layer atop$/m);
  });

  test('clean removes roots, oci and .stacker even with files owned by subuids; --all is accepted', async () => {
    const rig = await getRig();
    const foreign = await execOk('find', [p.path('roots'), '!', '-uid', String(rig.user.uid), '-print', '-quit']);
    assert.notEqual(foreign.stdout.trim(), '', 'the roots dir holds files owned by subordinate ids');
    const r = await runStacker(p, ['clean', '--all']);
    assert.equal(r.code, 0, r.stderr);
    for (const d of ['roots', 'oci', '.stacker']) assert.equal(await p.exists(d), false, `${d} is gone`);
    assert.ok((await p.exists('stacker.yaml')) && (await p.exists('base/oci/index.json')));
    assert.equal((await runStacker(p, ['clean'])).code, 0, 'cleaning a clean directory works');
  });
});

const FRESH = 'stacker-e2e-fresh';
const SUBID_FILES = ['/etc/subuid', '/etc/subgid'];
const STD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The rig's machine-wide lock: held while this file edits /etc/subuid and /etc/subgid. */
async function subidLock<T>(fn: () => Promise<T>): Promise<T> {
  return withLock(join(dirname((await getRig()).projectsDir), 'stacker-e2e-rig.lock'), fn);
}

/** Deletes the user and its subid lines (userdel may leave them). */
async function removeUser(name: string): Promise<void> {
  await subidLock(async () => {
    await exec('userdel', ['-r', name]);
    for (const f of SUBID_FILES) {
      const text = await readFile(f, 'utf8');
      const kept = text.split('\n').filter((l) => !l.startsWith(`${name}:`)).join('\n');
      if (kept !== text) await writeFile(f, kept);
    }
  });
}

/** A fresh user with no subordinate id range, and a directory it owns. */
async function freshUser(name: string): Promise<{ user: RigUser; dir: string }> {
  await removeUser(name);
  await execOk('useradd', ['-m', '-U', '-s', '/bin/sh', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name]);
  const f = (await execOk('getent', ['passwd', name])).stdout.trim().split(':');
  const user: RigUser = { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, viaRunuser: true };
  const dir = await mkdtemp(join((await getRig()).projectsDir, 'u-'));
  await chmod(dir, 0o755);
  await chown(dir, user.uid, user.gid);
  return { user, dir };
}

async function runStackerAs(user: RigUser, dir: string, args: string[]): Promise<ExecResult> {
  const rig = await getRig();
  const env = { HOME: user.home, USER: user.name, LOGNAME: user.name, LANG: 'C.UTF-8', PATH: (isAbsolute(rig.node) ? `${dirname(rig.node)}:` : '') + STD_PATH };
  const argv = userArgv(user, env, rig.node, [rig.stackerBin, ...args]);
  return exec(argv[0]!, argv.slice(1), { cwd: dir });
}

const subids = (): Promise<string[]> => Promise.all(SUBID_FILES.map((f) => readFile(f, 'utf8')));

describe('check and unpriv-setup (as root for a fresh user)', { skip: !isRoot() && 'needs root (useradd, /etc/subuid)' }, () => {
  after(async () => {
    await removeUser(FRESH);
    await cleanup();
  });

  test('check passes for the rig user', async () => {
    const p = await makeProject();
    const r = await runStacker(p, ['check']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    assert.ok(lines.length >= 7 && lines.every((l) => l.startsWith('ok ')), r.stdout);
    assert.match(r.stdout, /^ok {3}\/etc\/subuid: stacker-e2e: \d+:65536$/m);
  });

  test('a user without a range: check and build fail with the fix; unpriv-setup fixes it, once', async () => {
    const rig = await getRig();
    const { user, dir } = await freshUser(FRESH);
    await execOk('cp', ['-a', await busyboxLayout(), join(dir, 'base')]);
    await writeFile(join(dir, 'stacker.yaml'), 'img:\n  from: {type: oci, url: base:busybox}\n  run: |\n    echo x > /x\n    chown 1000:1000 /x\n');
    await execOk('chown', ['-R', `${user.uid}:${user.gid}`, dir]);

    const check = await runStackerAs(user, dir, ['check']);
    assert.equal(check.code, 1);
    for (const f of SUBID_FILES) {
      assert.match(check.stdout, new RegExp(`^FAIL ${f}: no entry for ${FRESH}\\n {5}fix: as root: stacker unpriv-setup --username ${FRESH}$`, 'm'));
    }
    const build = await runStackerAs(user, dir, ['build']);
    assert.equal(build.code, 1);
    assert.match(build.stderr, new RegExp(`no subordinate id range for user ${FRESH} in /etc/subuid[\\s\\S]*unpriv-setup --username ${FRESH}`));

    await rm(join(dir, '.stacker'), { recursive: true, force: true });
    await rm(join(dir, 'roots'), { recursive: true, force: true });
    const setup = (): Promise<ExecResult> => subidLock(async () => exec(rig.node, [rig.stackerBin, 'unpriv-setup', '--username', FRESH], { cwd: dir, env: { PATH: STD_PATH, HOME: '/root' } }));
    const before = await subids();
    const first = await setup();
    assert.equal(first.code, 0, first.stderr);
    const afterSetup = await subids();
    for (const [i, text] of afterSetup.entries()) {
      assert.ok(text.startsWith(before[i]!), 'existing lines are kept');
      const added = parseSubIds(text.slice(before[i]!.length));
      assert.equal(added.length, 1);
      const mine = added[0]!;
      assert.equal(mine.owner, FRESH);
      assert.equal(mine.count, 65536);
      assert.ok(mine.start >= 100000);
      for (const r of parseSubIds(before[i]!)) assert.ok(r.start + r.count <= mine.start || mine.start + mine.count <= r.start, `overlaps ${r.owner}:${r.start}:${r.count}`);
    }
    for (const d of ['.stacker', 'roots']) {
      const st = await stat(join(dir, d));
      assert.deepEqual([st.isDirectory(), st.uid, st.gid], [true, user.uid, user.gid], d);
    }
    const second = await setup();
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(await subids(), afterSetup, 'a second run changes nothing');

    const recheck = await runStackerAs(user, dir, ['check']);
    assert.equal(recheck.code, 0, recheck.stdout);
    const rebuild = await runStackerAs(user, dir, ['build']);
    assert.equal(rebuild.code, 0, rebuild.stderr + rebuild.stdout);
    assert.match(rebuild.stdout, /^filesystem img built successfully$/m);
    assert.equal((await runStackerAs(user, dir, ['clean'])).code, 0);
    await rm(dir, { recursive: true, force: true });
  });
});
