import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Diagnostics } from '../../src/config/diagnostics.js';
import { parseChangedFile, splitTopLevel } from '../../src/config/parse-changed.js';
import { parseStackerFile, type ParseFileOptions, type ParsedFile } from '../../src/config/parse-file.js';
import { encodeExact } from '../../src/config/spec-codec.js';
import { SourceText } from '../../src/config/source-text.js';
import { load, project } from '../fixtures/config/helpers.js';

const OPTS: ParseFileOptions = { file: '/p/stacker.yaml', referenceDir: '/p', requireHash: false, defaultOs: 'linux', defaultArch: 'amd64' };

function full(text: string): { parsed: ParsedFile; diag: Diagnostics } {
  const diag = new Diagnostics();
  return { parsed: parseStackerFile(new SourceText('stacker.yaml', text), OPTS, diag), diag };
}

/** What a parse gave, as one comparable string. */
const shape = (p: ParsedFile): string => encodeExact({ layers: p.layers, names: p.names, prerequisites: p.prerequisites });

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** Layer bodies in the forms people write: flow and block maps, block scalars, lists, comments. */
const BODIES: ((parent: string | undefined, i: number) => string)[] = [
  (p, i) => `  from: {type: ${p ? `built, tag: ${p}` : 'docker, url: docker://alpine:3.19'}}\n  run: echo ${i} > /l${i}\n`,
  (p, i) => `  from:\n    type: ${p ? 'built' : 'oci'}\n    ${p ? `tag: ${p}` : 'url: base/oci:busybox'}\n  imports:\n    - f${i}.txt\n    - path: d${i}/\n      dest: /opt/d${i}/\n  run: |\n    echo one\n    echo two ${i}\n\n    echo after a blank line\n`,
  (p, i) => `  # a comment in the layer\n  from: {type: ${p ? `built, tag: ${p}` : 'scratch'}}\n  environment:\n    A: "${i}"\n    B: 'quoted: yes'\n    C: 0755\n  labels: {org.example.n: "${i}"}\n  run: >\n    folded\n    text ${i}\n`,
  (p, i) => `  from: {type: ${p ? `built, tag: ${p}` : 'docker, url: docker://alpine:3.19'}}\n  run:\n    - echo a\n    - echo b${i}\n  cmd: [/bin/sh, -c, "echo ${i}"]\n  entrypoint: /bin/app --x\n  build_only: ${i % 2 === 0 ? 'true' : 'false'}\n`,
  (p, i) => `  from: {type: ${p ? `built, tag: ${p}` : 'docker, url: docker://alpine:3.19'}}\n  run: |-\n    cat <<EOF > /x\n    a: b\n    EOF\n  volumes: [/data${i}]\n  working_dir: /w${i}\n`,
];

function baseFile(r: (n: number) => number, count: number): string {
  let text = r(2) === 0 ? '# header comment\n\n' : '';
  for (let i = 0; i < count; i++) {
    text += `l${i}:\n${BODIES[r(BODIES.length)]!(i === 0 ? undefined : `l${r(i)}`, i)}`;
    if (r(3) === 0) text += r(2) === 0 ? '\n' : '# between layers\n';
  }
  return text;
}

/** One edit of the kinds an editor makes, some of which the entry-wise parse must refuse. */
function mutate(r: (n: number) => number, text: string): string {
  const lines = text.split('\n');
  const at = r(lines.length);
  switch (r(16)) {
    case 0: return lines.map((l, i) => (i === at && l.includes('echo') ? l.replace('echo', 'echo changed') : l)).join('\n');
    case 1: lines.splice(at, 0, ''); break;
    case 2: lines.splice(at, 0, '# inserted comment'); break;
    case 3: lines.splice(at, 0, '    # indented comment'); break;
    case 4: lines.splice(at, 1); break;
    case 5: lines.splice(at, 0, `x${at}:`, '  from: {type: scratch}', `  run: echo x${at}`); break;
    case 6: lines.splice(at, 0, '  unknown_directive: 1'); break;
    case 7: lines.splice(at, 0, 'config:', '  prerequisites: [other.yaml]'); break;
    case 8: lines.splice(at, 0, 'anch:', '  from: &base {type: scratch}', 'ali:', '  from: *base'); break;
    case 9: lines[at] = lines[at]!.replace(/^(\s*)/, '$1 '); break;
    case 10: lines[at] = `${lines[at]!}   `; break;
    case 11: lines.splice(at, 0, '---'); break;
    case 12: lines.splice(at, 0, '- item'); break;
    case 13: lines.splice(at, 0, '"quoted": {from: {type: scratch}}'); break;
    case 14: lines.splice(at, 0, '  environment: {Z: "1"}'); break;
    default: lines.splice(at, 0, '    continued text'); break;
  }
  return lines.join('\n');
}

describe('parsing a changed file by its entries', () => {
  it('splits only texts whose column-0 lines are all plain keys', () => {
    assert.deepEqual(splitTopLevel('# c\n\na:\n  x: 1\n# c\nb: {y: 2}\n'), [
      { key: 'a', start: 5, end: 19, line: 2 },
      { key: 'b', start: 19, end: 29, line: 5 },
    ]);
    for (const bad of ['---\na: 1\n', 'a:\n- x\n', '{a: 1}\n', '"a": 1\n', 'a: 1\r\nb: 2\r\n', '\ufeffa: 1\n', '  x: 1\na: 2\n', 'a: [1,\n2]\n', '\ta: 1\n', '%YAML 1.1\na: 1\n', '? a\n: 1\n', '# only a comment\n', 'a:1\n']) {
      assert.equal(splitTopLevel(bad), undefined, JSON.stringify(bad));
    }
  });

  it('gives exactly what parsing the whole file gives, or nothing (random files and edits)', () => {
    let used = 0;
    let cases = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const r = rng(seed);
      let before = baseFile(r, 2 + r(9));
      // Chains of edits: each text is parsed from the last one that parsed cleanly.
      for (let step = 0; step < 6; step++) {
        const prev = full(before);
        const after = mutate(r, before);
        if (prev.diag.errors.length === 0 && prev.diag.warnings.length === 0 && prev.parsed.plain) {
          cases++;
          const got = parseChangedFile(new SourceText('stacker.yaml', after), OPTS, { text: before, layers: prev.parsed.layers });
          const want = full(after);
          if (got !== undefined) {
            used++;
            const why = `seed ${seed} step ${step}\n--- before\n${before}\n--- after\n${after}`;
            assert.deepEqual(want.diag.errors.map((e) => e.message), [], why);
            assert.deepEqual(want.diag.warnings, [], why);
            assert.equal(want.parsed.plain, true, why);
            assert.equal(shape(got), shape(want.parsed), why);
          }
        }
        before = after;
      }
    }
    // The edits are meant to be taken often, not refused every time.
    assert.ok(cases > 500 && used > cases / 3, `${used} of ${cases} edits parsed by entries`);
  });

  it('loads an edited file through the spec cache with the result of a load without it', async () => {
    const layers = Array.from({ length: 12 }, (_, i) => `l${i}:\n  from: {type: ${i === 0 ? 'scratch' : `built, tag: l${i - 1}`}}\n  run: |\n    echo ${i}\n`);
    const dir = await project({ 'stacker.yaml': layers.join('') });
    const cacheDir = path.join(dir, '.stacker', 'spec-cache');
    await load(dir, { specCacheDir: cacheDir });
    const edits = [
      (ls: string[]) => ls.map((l, i) => (i === 11 ? `${l}    echo edited\n` : l)),
      (ls: string[]) => ls.map((l, i) => (i === 3 ? `${l}  environment: {X: "1"}\n` : l)),
      (ls: string[]) => ls.filter((_, i) => i !== 5).map((l, i) => (i === 5 ? l.replace('tag: l5', 'tag: l4') : l)),
      (ls: string[]) => [...ls, 'extra:\n  from: {type: built, tag: l0}\n'],
    ];
    let current = layers;
    for (const edit of edits) {
      current = edit(current);
      writeFileSync(path.join(dir, 'stacker.yaml'), current.join(''));
      const withCache = await load(dir, { specCacheDir: cacheDir });
      assert.equal(withCache.fromCache, undefined);
      const without = await load(dir);
      assert.equal(encodeExact(withCache), encodeExact(without));
    }
  });
});
