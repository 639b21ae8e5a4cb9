import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chown, mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxLayout, builtLayers, execOk, getRig, makeProject, runAsUser } from './rig.js';

/**
 * bin/stacker.js runs the one-file bundle (dist/bundle/stacker.cjs) with a V8 code cache. Here
 * the bundle runs from an install of the package without dist/src, so nothing else can have run:
 * a real build (the CLI re-executes itself inside the user namespace), a no-op rebuild, a damaged
 * code cache, and the rule that tsc's output wins when the bundle is older than it.
 */
describe('the bundled CLI (unprivileged, end to end)', () => {
  test('builds inside the namespace and rebuilds nothing from an install holding only the bundle', async () => {
    const rig = await getRig();
    const repo = rig.stage.root;
    // The install: the bin, a bundle of the code under test (scripts/bundle.mjs, as `npm run
    // build` makes it) and the files the CLI finds beside it; node_modules for the compiled addon
    // of better-sqlite3.
    const install = await mkdtemp(join(rig.projectsDir, 'install-'));
    try {
      await execOk('cp', ['-a', join(repo, 'bin'), join(repo, 'package.json'), join(repo, 'cache'), join(repo, 'build'), install]);
      const made = spawnSync(process.execPath, [join(rig.repoDir, 'scripts', 'bundle.mjs'), '--outfile', join(install, 'dist', 'bundle', 'stacker.cjs')], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      await symlink(join(repo, 'node_modules'), join(install, 'node_modules'));
      await execOk('chmod', ['-R', 'a+rX', install]);
      const cacheHome = join(install, 'xdg-cache');
      await mkdir(cacheHome);
      await chown(cacheHome, rig.user.uid, rig.user.gid);
      const stacker = (cwd: string, args: string[], env: Record<string, string> = {}) => runAsUser(rig.node, [join(install, 'bin', 'stacker.js'), ...args], cwd, { env: { XDG_CACHE_HOME: cacheHome, ...env } });

      const p = await makeProject({
        'stacker.yaml': `app:
  from: {type: oci, url: base/oci:busybox}
  imports: [greeting.txt]
  run: cp /stacker/imports/greeting.txt /greeting.txt
child:
  from: {type: built, tag: app}
  run: cat /greeting.txt > /child.txt
`,
        'greeting.txt': 'hello\n',
      });
      await p.copyIn(await busyboxLayout(), 'base/oci');

      const first = await stacker(p.dir, ['build'], { STACKER_TRACE: '1' });
      assert.equal(first.code, 0, first.stderr + first.stdout);
      assert.deepEqual(builtLayers(first.stdout).sort(), ['app', 'child']);
      // STACKER_TRACE=1: timing marks of the planner and of the builder, on one clock. The planner
      // becomes the builder (execve through unshare): one pid, no process left waiting.
      const marks = [...first.stderr.matchAll(/^trace (\d+) (\d+\.\d) (.+)$/gm)].map((m) => ({ pid: m[1]!, ms: Number(m[2]), label: m[3]! }));
      const handed = marks.findIndex((m) => m.label === 'builder: exec');
      assert.ok(handed >= 0, first.stderr);
      const inBuilder = marks.slice(handed + 1);
      assert.ok(inBuilder.some((m) => m.label === 'execute'), first.stderr);
      assert.ok(marks.every((m) => m.pid === marks[0]!.pid), first.stderr);
      assert.ok(inBuilder.every((m) => m.ms > marks[handed]!.ms), first.stderr);
      assert.ok(!existsSync(join(p.dir, '.stacker', '.lock')), 'the builder released the lock the planner took');
      // A code cache per command and side of the namespace: the planner's (`build`, saved before
      // it became the builder) and the builder's (`ns-build`), so that no command loads what
      // another one runs.
      const caches = (await readdir(join(cacheHome, 'stacker'))).sort();
      assert.equal(caches.length, 2, caches.join(' '));
      assert.match(caches[0]!, /-\d+-build\.v8cache$/);
      assert.match(caches[1]!, /-ns-build\.v8cache$/);
      const cacheName = caches[0]!;

      const noop = await stacker(p.dir, ['build']);
      assert.equal(noop.code, 0, noop.stderr + noop.stdout);
      assert.deepEqual(builtLayers(noop.stdout), []);
      assert.match(noop.stdout, /found cached layer child/);
      // Its second run checked once whether the planner's cache lacked what it compiles.
      assert.ok(existsSync(join(cacheHome, 'stacker', `${cacheName}.checked`)), 'the cache was checked once');

      // A damaged cache is rejected by V8 and written again.
      const cacheFile = join(cacheHome, 'stacker', cacheName);
      await writeFile(cacheFile, 'not a code cache');
      await p.write('greeting.txt', 'hello again\n');
      const edited = await stacker(p.dir, ['build']);
      assert.equal(edited.code, 0, edited.stderr + edited.stdout);
      assert.deepEqual(builtLayers(edited.stdout), ['app', 'child']);
      assert.ok(statSync(cacheFile).size > 1000, 'the code cache was written again');
      assert.ok(!existsSync(`${cacheFile}.checked`), 'a new cache, to be checked by the next run');

      // tsc's output wins only when it is newer than the bundle.
      await mkdir(join(install, 'dist', 'src', 'cli'), { recursive: true });
      const fake = join(install, 'dist', 'src', 'cli', 'main.js');
      await writeFile(fake, "export async function main() { process.stdout.write('from dist/src\\n'); }\n");
      await execOk('chmod', ['-R', 'a+rX', join(install, 'dist')]);
      const bundled = statSync(join(install, 'dist', 'bundle', 'stacker.cjs')).mtime;
      await utimes(fake, bundled, new Date(bundled.getTime() + 60_000));
      assert.equal((await stacker(p.dir, ['--version'])).stdout, 'from dist/src\n');
      await utimes(fake, bundled, new Date(bundled.getTime() - 60_000));
      assert.equal((await stacker(p.dir, ['--version'])).stdout, 'stacker version 0.1.0\n');
    } finally {
      await rm(install, { recursive: true, force: true });
    }
  });
});
