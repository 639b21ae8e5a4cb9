import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildSpec, LayerSpec } from '../../src/core/index.js';
import { StackerError, StackerErrors } from '../../src/core/index.js';
import { buildLayerGraph, ancestorsAndSelf } from '../../src/graph/index.js';
import { placeDestImport, copyIntoRootfs } from '../../src/engine/copy-into-rootfs.js';
import { secureJoin } from '../../src/storage/index.js';
import { bwrapArgs } from '../../src/runtime/sandbox.js';
import { buildImageConfig } from '../../src/engine/image-config.js';
import { runEnv, runScript } from '../../src/engine/run-step.js';

const loc = { file: '/p/stacker.yaml', line: 1, col: 1 };

function layer(name: string, over: Partial<LayerSpec> = {}): LayerSpec {
  return {
    name, file: '/p/stacker.yaml', referenceDir: '/p', location: loc,
    from: { type: 'scratch', insecure: false, location: loc }, imports: [], legacyImport: false, run: [],
    buildEnv: {}, environment: {}, volumes: [], labels: {}, generateLabels: [], buildOnly: false, binds: [],
    annotations: {}, os: 'linux', arch: 'amd64', overlayDirs: [], ...over,
  };
}

function spec(...layers: LayerSpec[]): BuildSpec {
  return { files: [], layers: new Map(layers.map((l) => [l.name, l])) };
}

const built = (tag: string) => ({ type: 'built' as const, tag, insecure: false, location: loc });

test('graph: file order is kept where edges allow, parents first', () => {
  const g = buildLayerGraph(spec(layer('app', { from: built('base') }), layer('base'), layer('other')));
  assert.deepEqual(g.order, ['base', 'app', 'other']);
  assert.deepEqual(ancestorsAndSelf(g, ['app']), ['base', 'app']);
});

test('graph: stacker:// imports are edges', () => {
  const imp = { rawPath: 'stacker://tools/bin/x', path: 'stacker://tools/bin/x', kind: 'stacker' as const, stackerLayer: 'tools', stackerPath: '/bin/x', location: loc };
  const g = buildLayerGraph(spec(layer('app', { imports: [imp] }), layer('tools')));
  assert.deepEqual(g.order, ['tools', 'app']);
  assert.equal(g.edges[0]?.kind, 'import');
});

test('graph: a missing parent names the layer and the dependency', () => {
  assert.throws(() => buildLayerGraph(spec(layer('test', { from: built('notatag') }))), (e: unknown) => {
    assert.ok(e instanceof StackerError);
    assert.equal(e.code, 'STACKER_E_MISSING_DEPENDENCY');
    assert.equal(e.message, "couldn't find dependencies for test: base layer notatag");
    return true;
  });
});

test('graph: a cycle is reported with every edge', () => {
  assert.throws(() => buildLayerGraph(spec(layer('a', { from: built('c') }), layer('b', { from: built('a') }), layer('c', { from: built('b') }))), (e: unknown) => {
    assert.ok(e instanceof StackerError || e instanceof StackerErrors);
    const msg = (e as Error).message;
    assert.match(msg, /dependency cycle: /);
    for (const edge of ['a -> b (built)', 'b -> c (built)', 'c -> a (built)']) assert.ok(msg.includes(edge), `${msg} lacks ${edge}`);
    return true;
  });
});

test('dest import placement follows the reference table', () => {
  const f = (sourceIsDir: boolean, path: string, dest: string) => placeDestImport({ sourceIsDir, path, dest, basename: path.replace(/\/$/, '').split('/').pop()! });
  assert.equal(f(false, 'f', '/files/'), '/files/f');
  assert.equal(f(false, 'f', '/file2'), '/file2');
  assert.equal(f(false, 'f', '/usr/bin'), '/usr/bin');
  assert.equal(f(true, 'folder1', '/folder2'), '/folder2');
  assert.equal(f(true, 'folder1/', '/folder2'), '/folder2');
  assert.equal(f(true, 'folder1', '/folder2/'), '/folder2/folder1');
  assert.equal(f(true, 'folder1/', '/folder2/'), '/folder2');
  assert.equal(f(true, 'folder1/', '/'), '/');
});

test('secureJoin clamps absolute and climbing symlinks to the root', () => {
  const root = mkdtempSync(join(tmpdir(), 'sj-'));
  mkdirSync(join(root, 'real'));
  symlinkSync('/', join(root, 'usr'));
  symlinkSync('../../../../etc', join(root, 'up'));
  symlinkSync('real', join(root, 'rel'));
  assert.equal(secureJoin(root, '/usr/bin/x'), join(root, 'bin/x'));
  assert.equal(secureJoin(root, '/up/passwd'), join(root, 'etc/passwd'));
  assert.equal(secureJoin(root, '/rel/a'), join(root, 'real/a'));
  assert.equal(secureJoin(root, '/../../x'), join(root, 'x'));
  assert.equal(secureJoin(root, '/usr', false), join(root, 'usr'));
});

test('copyIntoRootfs never writes through an image symlink to the host', () => {
  const root = mkdtempSync(join(tmpdir(), 'cir-'));
  const host = mkdtempSync(join(tmpdir(), 'host-'));
  symlinkSync(host, join(root, 'etc'));
  const src = join(mkdtempSync(join(tmpdir(), 'src-')), 'f');
  writeFileSync(src, 'payload');
  copyIntoRootfs(src, root, '/etc/f', { mode: 0o600 });
  assert.equal(existsSync(join(host, 'f')), false);
  assert.equal(readFileSync(join(root, host, 'f'), 'utf8'), 'payload');
});

test('bwrap arguments give the talk run environment', () => {
  const a = bwrapArgs({ rootfs: '/r', argv: ['/stacker/imports/.stacker-run.sh'], env: { PATH: '/bin', A: '1' }, roBinds: [{ source: '/i', dest: '/stacker/imports' }], binds: [{ source: '/h', dest: '/c' }], roTmpfs: ['/stacker'] }, true);
  const s = a.join(' ');
  assert.ok(s.startsWith('--bind /r / --proc /proc --ro-bind /proc/sys /proc/sys --dev /dev --ro-bind /sys /sys --ro-bind /etc/resolv.conf /etc/resolv.conf'));
  assert.ok(s.includes('--tmpfs /stacker --ro-bind /i /stacker/imports --remount-ro /stacker --bind /h /c'));
  assert.ok(s.includes('--unshare-pid --unshare-ipc --unshare-uts --hostname stacker --die-with-parent --new-session --clearenv --setenv A 1 --setenv PATH /bin'));
  assert.ok(!s.includes('--unshare-net'));
  assert.ok(s.endsWith('--chdir / -- /stacker/imports/.stacker-run.sh'));
  const l = bwrapArgs({ rootfs: '/r', argv: ['x'], env: {}, roBinds: [{ source: '/i', dest: '/stacker/imports' }], binds: [], roTmpfs: ['/stacker'], symlinks: [{ target: 'nowhere', dest: '/stacker/dangling' }] }, false).join(' ');
  assert.ok(l.includes('--tmpfs /stacker --ro-bind /i /stacker/imports --symlink nowhere /stacker/dangling --remount-ro /stacker'), l);
});

test('run script: sh -xe unless the script has its own shebang', () => {
  assert.equal(runScript(layer('a', { run: ['echo hi', 'ls'] })), '#!/bin/sh -xe\necho hi\nls\n');
  assert.equal(runScript(layer('a', { run: ['#!/bin/bash -e\necho hi'] })), '#!/bin/bash -e\necho hi\n');
});

test('run env: default PATH, passthrough, build_env wins, empty values dropped, layer name', () => {
  const env = runEnv(layer('web', { buildEnv: { http_proxy: 'override', EMPTY: '' } }), { http_proxy: 'host', SECRET: 'x', TERM: 'xterm' });
  assert.deepEqual(env, { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', http_proxy: 'override', TERM: 'xterm', STACKER_LAYER_NAME: 'web' });
  const all = runEnv(layer('web', { buildEnvPassthrough: ['SEC.*'] }), { SECRET: 'x', TERM: 'xterm' });
  assert.equal(all.SECRET, 'x');
  assert.equal(all.TERM, undefined);
  // NODE_EXTRA_CA_CERTS, which the launcher moved aside, passes through under its own name.
  const ca = runEnv(layer('web', { buildEnvPassthrough: ['NODE_.*', 'STACKER_.*'] }), { STACKER_EXTRA_CA_CERTS: '/ca.pem' });
  assert.equal(ca.NODE_EXTRA_CA_CERTS, '/ca.pem');
  assert.equal(ca.STACKER_EXTRA_CA_CERTS, undefined);
});

test('image config: sorted env replaces inherited keys, entrypoint drops inherited cmd, history appended', () => {
  const base = { architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin', 'B=old'], Cmd: ['/bin/sh'] }, rootfs: { type: 'layers' as const, diff_ids: [] }, history: [{ created_by: 'base' }] };
  const cfg = buildImageConfig({
    layer: layer('app', { environment: { B: 'new', A: '1' }, entrypoint: ['/app'], labels: { x: 'y' }, volumes: ['/data'], workingDir: '/w', runtimeUser: '1000' }),
    base, newDiffIds: [('sha256:' + 'a'.repeat(64)) as never], created: new Date(0), author: 'stacker',
  });
  assert.deepEqual(cfg.config?.Env, ['PATH=/bin', 'B=new', 'A=1']);
  assert.deepEqual(cfg.config?.Entrypoint, ['/app']);
  assert.equal(cfg.config?.Cmd, undefined);
  assert.equal(cfg.created, '1970-01-01T00:00:00Z');
  assert.deepEqual(cfg.history?.map((h) => h.created_by), ['base', 'stacker build of app', 'stacker build']);
  assert.equal(cfg.rootfs.diff_ids.length, 1);
  assert.deepEqual(cfg.config?.Volumes, { '/data': {} });
});
