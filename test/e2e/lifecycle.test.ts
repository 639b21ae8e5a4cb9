import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, readlink, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exec, getRig, makeProject, runAsUser, runStacker, useBusyboxRegistry, userEnv, builtLayers } from './rig.js';
import { userArgv } from './rig-user.js';


/** Starts `stacker build` as the rig user in its own process group; resolves when `marker` is printed. */
async function startBuild(dir: string, marker: RegExp): Promise<{ pid: number; done: Promise<{ code: number | null; out: string }> }> {
  const rig = await getRig();
  const argv = userArgv(rig.user, userEnv(rig), rig.node, [rig.stackerBin, 'build']);
  const child = spawn(argv[0]!, argv.slice(1), { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let seen: () => void = () => {};
  const marked = new Promise<void>((r) => {
    seen = r;
  });
  const onData = (c: Buffer): void => {
    out += c.toString();
    if (marker.test(out)) seen();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const done = new Promise<{ code: number | null; out: string }>((r) => child.on('exit', (code) => r({ code, out })));
  await Promise.race([marked, done]);
  return { pid: child.pid!, done };
}

/**
 * Processes of the rig user that belong to the build in `dir`: working there, naming it on their
 * command line (bwrap, mounts), or the step's own `sleep 60`. Other tests may run builds as the
 * same user at the same time, so "every process of the user" would not do.
 */
async function buildProcesses(dir: string): Promise<string> {
  const rig = await getRig();
  const pids = (await exec('pgrep', ['-u', rig.user.name])).stdout.split('\n').filter(Boolean);
  const mine: string[] = [];
  for (const pid of pids) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (cwd.startsWith(dir) || cmd.includes(dir) || cmd === 'sleep\x0060\x00') mine.push(`${pid} ${cmd.replaceAll('\x00', ' ')}`);
  }
  return mine.join('\n');
}

async function indexJson(dir: string): Promise<string> {
  return readFile(join(dir, 'oci', 'index.json'), 'utf8');
}

describe('build lifecycle: interrupts, kills, locks, --no-cache, moved checkouts', () => {
  const reg = useBusyboxRegistry();

  const yaml = (slow: string) => `
base:
  from: {type: docker, url: ${reg.busybox.url}, insecure: true}
  run: echo base > /base
slow:
  from: {type: built, tag: base}
  run: |
    echo started-slow
    ${slow}
    echo done > /slow
`;

  test('Ctrl-C stops the build, leaves no process or mount behind and the layout as it was; the next build works', async () => {
    const p = await makeProject({ 'stacker.yaml': yaml('sleep 1') });
    assert.equal((await runStacker(p, ['build'])).code, 0);
    const before = await indexJson(p.dir);
    await p.write('stacker.yaml', yaml('sleep 60'));
    const b = await startBuild(p.dir, /started-slow/);
    process.kill(-b.pid, 'SIGINT');
    const r = await b.done;
    assert.notEqual(r.code, 0, r.out);
    let left = await buildProcesses(p.dir);
    for (let i = 0; i < 50 && left !== ''; i++) {
      await sleep(100);
      left = await buildProcesses(p.dir);
    }
    assert.equal(left, '', 'no process of the build is left');
    // `base` is re-tagged with the new stacker_yaml annotation; the interrupted `slow` keeps its old image.
    const slowTag = (text: string) => (JSON.parse(text) as { manifests: { digest: string; annotations: Record<string, string> }[] })
      .manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === 'slow')?.digest;
    assert.equal(slowTag(await indexJson(p.dir)), slowTag(before));
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(p.dir), 'nothing mounted under the project');
    await p.write('stacker.yaml', yaml('true'));
    const again = await runStacker(p, ['build']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(builtLayers(again.stdout), ['slow']);
  });

  test('a build killed with SIGKILL leaves the index and oci/ consistent; the next build takes the stale lock and works', async () => {
    const p = await makeProject({ 'stacker.yaml': yaml('sleep 60') });
    const b = await startBuild(p.dir, /started-slow/);
    process.kill(-b.pid, 'SIGKILL');
    await b.done;
    await sleep(500);
    const tags = JSON.parse(await indexJson(p.dir)) as { manifests: { annotations: Record<string, string> }[] };
    assert.deepEqual(tags.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']), ['base']);
    const integrity = await runAsUser('sh', ['-c', 'node -e "const D=require(process.argv[1]);console.log(new D(\'.stacker/index.db\').pragma(\'integrity_check\',{simple:true}))" "$0"', join((await getRig()).stage.root, 'node_modules/better-sqlite3')], p.dir);
    assert.equal(integrity.stdout.trim(), 'ok', integrity.stderr);
    await p.write('stacker.yaml', yaml('true'));
    const again = await runStacker(p, ['build']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^found cached layer base$/m);
    assert.deepEqual(builtLayers(again.stdout), ['slow']);
  });

  test('two builds at once on the same directories wait for each other', async () => {
    const p = await makeProject({ 'stacker.yaml': yaml('sleep 2') });
    const a = await startBuild(p.dir, /building/);
    const b = runStacker(p, ['build']);
    const [ra, rb] = await Promise.all([a.done, b]);
    assert.equal(ra.code, 0, ra.out);
    assert.equal(rb.code, 0, rb.stderr);
    assert.match(rb.stdout, /waiting for the lock on .*\.stacker, held by pid \d+/);
    assert.deepEqual(builtLayers(rb.stdout), []);
  });

  test('--no-cache rebuilds every layer and keeps the downloaded base', async () => {
    const p = await makeProject({ 'stacker.yaml': yaml('true') });
    assert.equal((await runStacker(p, ['build'])).code, 0);
    const blobs = (await runAsUser('ls', ['.stacker/store/blobs/sha256'], p.dir)).stdout.split('\n').filter(Boolean);
    const baseLayer = JSON.parse((await exec('skopeo', ['inspect', '--tls-verify=false', reg.busybox.url])).stdout).Layers[0].slice(7) as string;
    assert.ok(blobs.includes(baseLayer));
    const ino = (await stat(join(p.dir, '.stacker/store/blobs/sha256', baseLayer))).ino;
    const r = await runStacker(p, ['build', '--no-cache']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(builtLayers(r.stdout), ['base', 'slow']);
    assert.match(r.stdout, /^building base: --no-cache$/m);
    assert.equal((await stat(join(p.dir, '.stacker/store/blobs/sha256', baseLayer))).ino, ino, 'the base blob was not downloaded again');
  });

  test('the same project checked out elsewhere hits the same keys', async () => {
    const p = await makeProject({ 'stacker.yaml': yaml('true'), 'f.txt': 'x' });
    assert.equal((await runStacker(p, ['build'])).code, 0);
    const moved = `${p.dir}-moved`;
    await rename(p.dir, moved);
    try {
      const r = await runStacker(moved, ['build']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(builtLayers(r.stdout), []);
    } finally {
      await rename(moved, p.dir);
    }
  });

  test('overlay_dirs and generate_labels', async () => {
    const p = await makeProject({
      'stacker.yaml': `
l:
  from: {type: docker, url: ${reg.busybox.url}, insecure: true}
  overlay_dirs:
    - source: tree
      dest: /opt/tree
  generate_labels: |
    printf v1 > /stacker/oci-labels/version
    touch /junk
  labels:
    fixed: yes
`,
      'tree/a.txt': 'a\n',
      'tree/sub/b.txt': 'b\n',
    });
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const cfg = JSON.parse((await runAsUser('skopeo', ['inspect', '--config', 'oci:oci:l'], p.dir)).stdout) as { config: { Labels: Record<string, string> } };
    assert.deepEqual(cfg.config.Labels, { fixed: 'yes', version: 'v1' });
    await runAsUser('umoci', ['unpack', '--rootless', '--image', 'oci:l', 'u'], p.dir);
    assert.equal(await readFile(join(p.dir, 'u/rootfs/opt/tree/sub/b.txt'), 'utf8'), 'b\n');
    await assert.rejects(stat(join(p.dir, 'u/rootfs/junk')));
    await p.write('tree/a.txt', 'changed\n');
    assert.deepEqual(builtLayers((await runStacker(p, ['build'])).stdout), ['l']);
  });
});
