import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { StackerError, StackerErrors } from '../../src/core/index.js';
import type { LoadOptions, LoadResult } from '../../src/config/index.js';
import { UnencodableError, decodeExact, encodeExact } from '../../src/config/spec-codec.js';
import { load, options, project, render } from '../fixtures/config/helpers.js';

/** Loads with the spec cache under `<dir>/.stacker/spec-cache`. */
const cached = (dir: string, extra: Partial<LoadOptions> = {}): Promise<LoadResult> =>
  load(dir, { specCacheDir: path.join(dir, '.stacker', 'spec-cache'), ...extra });

function entries(dir: string): string[] {
  const d = path.join(dir, '.stacker', 'spec-cache');
  return existsSync(d) ? readdirSync(d) : [];
}

/** The rendered errors of a load that must fail. */
async function errorLines(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StackerErrors) return e.errors.map(render);
    if (e instanceof StackerError) return [render(e)];
    throw e;
  }
  throw new Error('expected the load to fail');
}

describe('spec codec', () => {
  it('gives back a deepStrictEqual value: Maps, undefined properties and items, nesting', () => {
    const value = {
      layers: new Map<string, unknown>([
        ['a', { name: 'a', hash: undefined, list: [1, undefined, 'x'], env: {}, nested: new Map([[1, [true, null]]]) }],
        ['b', { location: { file: 'f', line: 1, col: 2 }, text: 'é \u0000 \ud800 "q"' }],
      ]),
      files: [],
      top: undefined,
    };
    const back = decodeExact(encodeExact(value));
    assert.deepStrictEqual(back, value);
    assert.ok(Object.hasOwn((back as { top?: unknown }), 'top'));
    assert.equal(decodeExact(encodeExact(undefined)), undefined);
  });

  it('refuses what JSON would change instead of encoding it approximately', () => {
    class Thing {}
    for (const bad of [NaN, Infinity, -0, 1n, () => 0, Symbol('s'), new Thing(), Object.create(null), new Date(0), { '\u0000map': 1 }, { [Symbol('k')]: 1 }]) {
      assert.throws(() => encodeExact({ x: [bad] }), UnencodableError, String(typeof bad));
    }
  });
});

/** Files exercising every part of a spec: prerequisites, substitutions, warnings, every directive. */
const CORPUS: Record<string, string> = {
  'stacker.yaml': `config:
  prerequisites:
    - lib/base.yaml
app:
  from:
    type: built
    tag: base
  import:
    - config.json
    - path: data/
      dest: /opt/data/
      mode: 0640
      uid: 1000
    - stacker://base/etc/os-release
    - path: https://example.com/x.tgz
      hash: ${'a'.repeat(64)}
  run: |
    echo \${{GREETING}} > /etc/motd
    echo \${{FROM_FILE:default}}
  cmd: /bin/app --flag "two words"
  entrypoint: [/bin/sh, -c]
  environment: {A: "1", EMPTY: , Q: 'x y'}
  labels: {org.example.v: \${{VERSION}}}
  volumes: [/data]
  working_dir: /srv
  runtime_user: "1000:1000"
  build_env: {HTTP_PROXY: ""}
  build_env_passthrough: ["(?i)proxy.*", "LANG"]
  annotations: {x: y}
  generate_labels: echo hi
  binds:
    - data -> /mnt/data
  overlay_dirs:
    - source: data
      dest: /overlay
  os: linux
  arch: arm64
  bom: true
tool:
  from: {type: oci, url: oci/layout:tag}
  build_only: true
  full_command: [/bin/true]
  run: [echo one, echo two]
`,
  'lib/base.yaml': `base:
  from:
    type: docker
    url: docker://registry.example/base:\${{VERSION}}
    insecure: true
  imports: [../config.json]
tarred:
  from: {type: tar, url: stacker://base/rootfs.tar}
`,
  'config.json': '{}',
  'data/file': 'x',
  'subst.yaml': 'FROM_FILE: from the file\nVERSION: "0755"\n',
};
const CORPUS_OPTIONS: Partial<LoadOptions> = { substitutions: ['GREETING=hello'], substituteFile: 'subst.yaml' };

describe('spec cache', () => {
  it('returns exactly what parsing returns: spec, locations and warnings', async () => {
    const dir = await project(CORPUS);
    const parsed = await load(dir, CORPUS_OPTIONS);
    assert.ok(parsed.warnings.length >= 2, 'the corpus has deprecation warnings');
    const miss = await cached(dir, CORPUS_OPTIONS);
    assert.equal(miss.fromCache, undefined);
    assert.equal(entries(dir).length, 1);
    const hit = await cached(dir, CORPUS_OPTIONS);
    assert.equal(hit.fromCache, true);
    assert.deepStrictEqual(hit.spec, parsed.spec);
    assert.deepStrictEqual(hit.warnings, parsed.warnings);
    assert.deepStrictEqual(miss.spec, parsed.spec);
  });

  it('parses again when any file read, or any way of loading, differs', async () => {
    const dir = await project(CORPUS);
    await cached(dir, CORPUS_OPTIONS);
    assert.equal((await cached(dir, CORPUS_OPTIONS)).fromCache, true);

    const changes: [string, () => void, Partial<LoadOptions>][] = [
      // same sizes: the contents count, not the stat data
      ['main file', () => writeFileSync(path.join(dir, 'stacker.yaml'), CORPUS['stacker.yaml']!.replace('/data]', '/dat2]')), {}],
      ['prerequisite', () => writeFileSync(path.join(dir, 'lib/base.yaml'), CORPUS['lib/base.yaml']!.replace('insecure: true', 'insecure: no  ')), {}],
      ['substitute file', () => writeFileSync(path.join(dir, 'subst.yaml'), CORPUS['subst.yaml']!.replace('0755', '0644')), {}],
      ['a substitution', () => {}, { substitutions: ['GREETING=hullo'] }],
      ['a built-in', () => {}, { builtins: { ...options(dir).builtins, STACKER_OCI_DIR: '/elsewhere' } }],
      ['the default arch', () => {}, { defaultArch: 'riscv64' }],
      ['the cwd (paths are shown relative to it)', () => {}, { cwd: path.join(dir, 'lib'), file: '../stacker.yaml', substituteFile: '../subst.yaml' }],
    ];
    for (const [what, change, extra] of changes) {
      change();
      const opts = { ...CORPUS_OPTIONS, ...extra };
      const again = await cached(dir, opts);
      assert.equal(again.fromCache, undefined, `${what}: parsed again`);
      assert.deepStrictEqual(again.spec, (await load(dir, opts)).spec, what);
      assert.equal((await cached(dir, opts)).fromCache, true, `${what}: then cached`);
    }
  });

  it('still checks that local imports exist, with the same errors as a parse', async () => {
    const dir = await project(CORPUS);
    await cached(dir, CORPUS_OPTIONS);
    rmSync(path.join(dir, 'config.json'));
    const fresh = await errorLines(load(dir, CORPUS_OPTIONS));
    assert.equal(fresh.length, 2);
    assert.deepEqual(await errorLines(cached(dir, CORPUS_OPTIONS)), fresh);
  });

  it('keeps nothing for a load that fails, and recovers from a torn entry', async () => {
    const dir = await project({ 'stacker.yaml': 'a:\n  from: {type: nah}\n' });
    await errorLines(cached(dir));
    assert.deepEqual(entries(dir), []);
    writeFileSync(path.join(dir, 'stacker.yaml'), 'a:\n  from: {type: scratch}\n');
    await cached(dir);
    const [entry] = entries(dir);
    writeFileSync(path.join(dir, '.stacker', 'spec-cache', entry!), '{"format": 1, "co');
    const again = await cached(dir);
    assert.equal(again.fromCache, undefined);
    assert.equal(again.spec.layers.get('a')!.from.type, 'scratch');
    assert.equal((await cached(dir)).fromCache, true);
  });

  it('one entry per way of loading: edits replace it', async () => {
    const dir = await project({ 'stacker.yaml': 'a:\n  from: {type: scratch}\n' });
    for (const name of ['b', 'c', 'd']) {
      writeFileSync(path.join(dir, 'stacker.yaml'), `${name}:\n  from: {type: scratch}\n`);
      assert.deepEqual([...(await cached(dir)).spec.layers.keys()], [name]);
    }
    assert.equal(entries(dir).length, 1);
  });
});
