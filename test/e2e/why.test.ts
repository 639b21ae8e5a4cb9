import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { busyboxLayout, getRig, makeProject, pushLayout, runStacker, useBusyboxRegistry, userEnv, builtLayers } from './rig.js';
import { userArgv } from './rig-user.js';

interface WhyJson {
  mode: string;
  upToDate: boolean;
  build: { id: number; outcome: string; built: number; cached: number } | null;
  layers: { layer: string; state: string; key: string; prevKey: string | null; reason: string | null; reasons: { kind: string; [k: string]: unknown }[] }[];
}

interface HistoryJson { id: number; outcome: string; built: number; cached: number; failed: number; notRun: number; durationMs: number | null; command: string }

describe('why-rebuilt and history (unprivileged, end to end)', () => {
  const reg = useBusyboxRegistry();

  const yaml = (o: { foo: string; run: string }): string => `
app:
  from: {type: docker, url: ${reg.busybox.url}, insecure: true}
  imports:
    - conf
    - install.sh
  run: |
${o.run.split('\n').map((l) => `    ${l}`).join('\n')}
  environment:
    FOO: "${o.foo}"
child:
  from: {type: built, tag: app}
  run: echo child > /child
grandchild:
  from: {type: built, tag: child}
  run: echo grandchild > /grandchild
other:
  from: {type: docker, url: ${reg.busybox.url}, insecure: true}
  run: echo other > /other
`;

  test('dry run before a build, the last build after it, --build N, --json and history', async () => {
    const run1 = 'mkdir -p /etc/app\ncp -r /stacker/imports/conf /etc/app/\nsh /stacker/imports/install.sh';
    const p = await makeProject({
      'stacker.yaml': yaml({ foo: '1', run: run1 }),
      'conf/a.txt': 'a\n',
      'conf/sub/b.txt': 'b\n',
      'install.sh': 'echo installed > /installed\n',
    });

    // Never built: the dry run says so for every layer, and builds nothing.
    const never = await runStacker(p, ['why-rebuilt']);
    assert.equal(never.code, 0, never.stderr);
    assert.match(never.stdout, /^would rebuild 4 of 4 layers \(dry run: nothing was built\)$/m);
    assert.match(never.stdout, /^app: would rebuild\n {2}never built$/m);
    assert.equal(await p.exists('oci'), false);
    assert.equal((await runStacker(p, ['history'])).stdout, 'no builds recorded\n');

    const first = await runStacker(p, ['build']);
    assert.equal(first.code, 0, first.stderr + first.stdout);

    // Edit a file inside the directory import, an environment value and the run text.
    await p.write('conf/sub/b.txt', 'b2\n');
    await p.write('conf/new.txt', 'new\n');
    await p.write('stacker.yaml', yaml({ foo: '2', run: `${run1}\necho more > /more` }));

    const dry = await runStacker(p, ['why-rebuilt']);
    assert.equal(dry.code, 0, dry.stderr);
    const expectedApp = [
      'app: would rebuild',
      /^ {2}import conf: sha256:[0-9a-f]{12}… -> sha256:[0-9a-f]{12}…$/,
      /^ {4}conf\/new\.txt: added$/,
      /^ {4}conf\/sub\/b\.txt: content sha256:[0-9a-f]{12}… -> sha256:[0-9a-f]{12}…$/,
      '  run:',
      '    @@ -1,3 +1,4 @@',
      '     mkdir -p /etc/app',
      '     cp -r /stacker/imports/conf /etc/app/',
      '     sh /stacker/imports/install.sh',
      '    +echo more > /more',
      '  environment.FOO: "1" -> "2"',
    ];
    const lines = dry.stdout.split('\n');
    assert.equal(lines[0], 'would rebuild 3 of 4 layers (dry run: nothing was built)');
    const at = lines.indexOf('app: would rebuild');
    assert.ok(at > 0, dry.stdout);
    expectedApp.forEach((want, i) => {
      if (typeof want === 'string') assert.equal(lines[at + i], want, dry.stdout);
      else assert.match(lines[at + i]!, want, dry.stdout);
    });
    assert.match(dry.stdout, /^child: would rebuild\n {2}parent app was rebuilt: key [0-9a-f]{12} -> [0-9a-f]{12}\n {4}root cause: app: import conf changed \([0-9a-f]{12} -> [0-9a-f]{12}\); run changed; environment\.FOO changed \("1" -> "2"\)$/m);
    assert.match(dry.stdout, /^cached: other$/m);

    // One layer asked for: its root cause is given in full, as app is not listed on its own.
    const one = await runStacker(p, ['why-rebuilt', 'grandchild']);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^grandchild: would rebuild\n {2}parent child was rebuilt: key \w+ -> \w+\n {4}root cause: app\n {6}import conf: /m);
    assert.match(one.stdout, /^ {8}conf\/sub\/b\.txt: content /m);

    // --json: the same as data.
    const dj = JSON.parse((await runStacker(p, ['why-rebuilt', '--json'])).stdout) as WhyJson;
    assert.equal(dj.mode, 'dry-run');
    const app = dj.layers.find((l) => l.layer === 'app')!;
    assert.deepEqual(app.reasons.map((r) => r.kind), ['import', 'run', 'directive']);
    assert.deepEqual(app.reasons[2], { kind: 'directive', path: 'environment.FOO', before: '1', after: '2' });
    assert.deepEqual((app.reasons[0]!.files as { path: string; change: string }[]).map((f) => [f.path, f.change]), [['conf/new.txt', 'added'], ['conf/sub/b.txt', 'modified']]);
    assert.equal(app.reason, 'import conf changed (' + (app.reasons[0]!.before as string).slice(7, 19) + ' -> ' + (app.reasons[0]!.after as string).slice(7, 19) + ')');

    // build prints the first of those reasons in one line.
    const second = await runStacker(p, ['build']);
    assert.equal(second.code, 0, second.stderr + second.stdout);
    assert.deepEqual(builtLayers(second.stdout), ['app', 'child', 'grandchild']);
    assert.match(second.stdout, new RegExp(`^building app: ${app.reason!.replace(/[()]/g, '\\$&')}$`, 'm'));
    assert.match(second.stdout, /^building child: parent app was rebuilt$/m);

    // After the build nothing would rebuild: why-rebuilt tells why the last build rebuilt.
    const noop = await runStacker(p, ['build']);
    assert.deepEqual(builtLayers(noop.stdout), []);
    const after = await runStacker(p, ['why-rebuilt']);
    assert.equal(after.code, 0, after.stderr);
    const al = after.stdout.split('\n');
    assert.equal(al[0], 'nothing would rebuild now; the last build that rebuilt something:');
    assert.match(al[1]!, /^build 2 \(\S+ \S+, success, [\d.]+ m?s\): 3 built, 1 cached$/);
    const appAt = al.findIndex((l) => /^app: built in [\d.]+ m?s$/.test(l));
    assert.ok(appAt > 0, after.stdout);
    expectedApp.slice(1).forEach((want, i) => {
      if (typeof want === 'string') assert.equal(al[appAt + 1 + i], want, after.stdout);
      else assert.match(al[appAt + 1 + i]!, want, after.stdout);
    });

    // --build N: that build, from the index, without the stacker file.
    const b1 = await runStacker(p, ['why-rebuilt', '--build', '1', '-f', 'missing.yaml']);
    assert.equal(b1.code, 0, b1.stderr);
    assert.match(b1.stdout, /^build 1 \(\S+ \S+, success, [\d.]+ m?s\): 4 built, 0 cached$/m);
    assert.match(b1.stdout, /^other: built in [\d.]+ m?s\n {2}never built$/m);
    const b2 = JSON.parse((await runStacker(p, ['why-rebuilt', '--build', '2', '--json', 'app'])).stdout) as WhyJson;
    assert.deepEqual(b2.layers.map((l) => [l.layer, l.state]), [['app', 'built']]);
    assert.equal(b2.layers[0]!.prevKey, dj.layers.find((l) => l.layer === 'app')!.prevKey);
    assert.deepEqual(b2.layers[0]!.reasons, app.reasons);
    const none = await runStacker(p, ['why-rebuilt', '--build', '99']);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /no build 99 in the history/);

    // history: newest first, with outcome, counts and duration.
    const h = JSON.parse((await runStacker(p, ['history', '--json'])).stdout) as HistoryJson[];
    assert.deepEqual(h.map((b) => [b.id, b.outcome, b.built, b.cached, b.failed, b.notRun]), [[3, 'success', 0, 4, 0, 0], [2, 'success', 3, 1, 0, 0], [1, 'success', 4, 0, 0, 0]]);
    assert.ok(h.every((b) => b.durationMs !== null && b.command === 'stacker build'));
    const text = await runStacker(p, ['history', '-n', '2']);
    assert.equal(text.code, 0, text.stderr);
    const rows = text.stdout.trimEnd().split('\n');
    assert.equal(rows.length, 3);
    assert.match(rows[0]!, /^BUILD +STARTED +OUTCOME +BUILT +CACHED +FAILED +NOT RUN +DURATION +COMMAND$/);
    assert.match(rows[1]!, /^ +3 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +success +0 +4 +0 +0 +[\d.]+ m?s +stacker build$/);
  });

  test('a moved base tag names both manifests; a killed build shows in history and is explained', async () => {
    const p = await makeProject({
      'stacker.yaml': `
moving:
  from: {type: docker, url: docker://${reg.registry.host}/moving:latest, insecure: true}
  run: echo moving > /moving
`,
    });
    const pushed = await pushLayout(reg.registry, await busyboxLayout(), 'busybox', 'moving');
    assert.equal((await runStacker(p, ['build'])).code, 0);
    // Move the tag to another image: the layer just built.
    const moved = await pushLayout(reg.registry, p.path('oci'), 'moving', 'moving');
    assert.notEqual(moved.digest, pushed.digest);
    const dry = await runStacker(p, ['why-rebuilt']);
    assert.equal(dry.code, 0, dry.stderr);
    const ref = `docker://${reg.registry.host}/moving:latest`;
    const h12 = (d: string): string => d.slice(7, 19);
    assert.match(dry.stdout, new RegExp(`^moving: would rebuild\\n {2}base ${ref.replace(/[.]/g, '\\.')} now sha256:${h12(moved.digest)}… \\(was sha256:${h12(pushed.digest)}…\\)$`, 'm'));

    // Kill a build while its step runs.
    await p.write('stacker.yaml', `
moving:
  from: {type: docker, url: ${ref}, insecure: true}
  run: |
    echo started-slow
    sleep 60
`);
    const rig = await getRig();
    const argv = userArgv(rig.user, userEnv(rig), rig.node, [rig.stackerBin, 'build']);
    const child = spawn(argv[0]!, argv.slice(1), { cwd: p.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    await new Promise<void>((resolve) => {
      let out = '';
      const on = (c: Buffer): void => {
        out += c.toString();
        if (out.includes('started-slow')) resolve();
      };
      child.stdout.on('data', on);
      child.stderr.on('data', on);
      void exited.then(() => resolve());
    });
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    // The build's processes may take a moment to go once their parent is gone.
    const history = async (): Promise<HistoryJson[]> => JSON.parse((await runStacker(p, ['history', '--json'])).stdout) as HistoryJson[];
    let h = await history();
    for (let i = 0; i < 50 && h[0]?.outcome === 'running'; i++) {
      await sleep(100);
      h = await history();
    }
    assert.deepEqual(h.map((b) => [b.id, b.outcome, b.built, b.notRun]), [[2, 'killed', 0, 1], [1, 'success', 1, 0]]);
    assert.match((await runStacker(p, ['history'])).stdout, /^ +2 +\S+ \S+ +killed +0 +0 +0 +1 +- +stacker build$/m);
    const why = await runStacker(p, ['why-rebuilt', '--build', '2']);
    assert.equal(why.code, 0, why.stderr);
    assert.match(why.stdout, /^build 2 \(\S+ \S+, killed\): 0 built, 0 cached, 1 not run$/m);
    assert.match(why.stdout, /^moving: not built \(the build stopped before it\)\n {2}base .* now sha256:[0-9a-f]{12}… \(was sha256:[0-9a-f]{12}…\)\n {2}run:\n {4}@@ -1 \+1,2 @@\n {4}-echo moving > \/moving\n {4}\\ No newline at end of file\n {4}\+echo started-slow\n {4}\+sleep 60$/m);
  });
});
