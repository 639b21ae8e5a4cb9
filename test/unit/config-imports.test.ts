import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { errorsOf, failures, project, specOf } from '../fixtures/config/helpers.js';

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x) => (k === 'location' ? undefined : x)));
const HEX = 'ab'.repeat(32);
const layer = (body: string): string => `l:\n  from: {type: scratch}\n${body}`;
const FILES = { 'config.json': '{}', 'install.sh': '#!/bin/sh\n', 'dir/a': 'a', 'sub/x': '' };

describe('config: imports', () => {
  it('reads a single string as one import', async () => {
    const { spec, dir } = await specOf(layer('  imports: config.json\n'), FILES);
    assert.deepEqual(plain(spec.layers.get('l')!.imports), [
      { rawPath: 'config.json', path: path.join(dir, 'config.json'), kind: 'local' },
    ]);
  });

  it('reads lists of strings and mappings, classifying every kind of path', async () => {
    const yaml = layer(
      [
        '  imports:',
        '    - config.json',
        '    - dir/',
        '    - ./sub/../install.sh',
        '    - /etc/hostname',
        '    - https://example.com/a.tgz',
        `    - path: http://example.com/b.tgz`,
        `      hash: SHA256:${HEX.toUpperCase()}`,
        '      dest: /opt/',
        '      mode: 0644',
        '      uid: 1000',
        '      gid: 0',
        '    - path: stacker://builder/out/bin/',
        '      dest: /usr/bin/',
        `      hash: ${HEX}`,
        '    - file:///etc/hosts',
        '    - {path: config.json, hash: ~, dest: null}',
        '',
      ].join('\n'),
    );
    const { spec, dir } = await specOf(yaml, FILES);
    assert.deepEqual(plain(spec.layers.get('l')!.imports), [
      { rawPath: 'config.json', path: path.join(dir, 'config.json'), kind: 'local' },
      { rawPath: 'dir/', path: path.join(dir, 'dir') + '/', kind: 'local' },
      { rawPath: './sub/../install.sh', path: path.join(dir, 'install.sh'), kind: 'local' },
      { rawPath: '/etc/hostname', path: '/etc/hostname', kind: 'local' },
      { rawPath: 'https://example.com/a.tgz', path: 'https://example.com/a.tgz', kind: 'http' },
      { rawPath: 'http://example.com/b.tgz', path: 'http://example.com/b.tgz', kind: 'http', hash: HEX, dest: '/opt/', mode: 0o644, uid: 1000, gid: 0 },
      { rawPath: 'stacker://builder/out/bin/', path: 'stacker://builder/out/bin/', kind: 'stacker', stackerLayer: 'builder', stackerPath: '/out/bin/', hash: HEX, dest: '/usr/bin/' },
      { rawPath: 'file:///etc/hosts', path: '/etc/hosts', kind: 'local' },
      { rawPath: 'config.json', path: path.join(dir, 'config.json'), kind: 'local' },
    ]);
  });

  it('gives every import the location of its entry', async () => {
    const { spec } = await specOf(layer('  imports:\n    - config.json\n    - path: install.sh\n'), FILES);
    const [a, b] = spec.layers.get('l')!.imports;
    assert.deepEqual([a!.location.line, a!.location.col, a!.location.length], [4, 7, 'config.json'.length]);
    assert.deepEqual([b!.location.line, b!.location.col, b!.location.sourceLine], [5, 7, '    - path: install.sh']);
  });

  it('null imports mean none', async () => {
    const { spec } = await specOf(layer('  imports:\n'));
    assert.deepEqual(spec.layers.get('l')!.imports, []);
  });

  it('warns about ignored keys and decimal-looking modes', async () => {
    const { warnings, spec } = await specOf(layer('  imports:\n    - path: config.json\n      perms: 0777\n      mode: 755\n'), FILES);
    assert.equal(spec.layers.get('l')!.imports[0]!.mode, 755);
    assert.deepEqual(warnings, [
      "stacker.yaml:5:7: unknown key 'perms' in import of layer 'l' is ignored (valid keys: path, hash, dest, mode, uid, gid)",
      'stacker.yaml:6:13: import mode 755 is a decimal number (octal 01363); write 0755 for the octal mode',
    ]);
  });

  it('folds legacy import into imports, with a deprecation warning', async () => {
    const { spec, warnings, dir } = await specOf(layer('  import:\n    - config.json\n    - http://h/x\n'), FILES);
    const l = spec.layers.get('l')!;
    assert.equal(l.legacyImport, true);
    assert.deepEqual(l.imports.map((i) => i.path), [path.join(dir, 'config.json'), 'http://h/x']);
    assert.deepEqual(warnings, [
      "stacker.yaml:3:3: 'import' in layer 'l' is deprecated; use 'imports' (files then appear under /stacker/imports instead of /stacker)",
    ]);
  });
});

describe('config: import errors', () => {
  it('shape errors (reference §1.4.1)', async () => {
    assert.deepEqual(await errorsOf(layer('  imports: {path: config.json}\n'), FILES), [
      "STACKER_E_IMPORTS_SHAPE stacker.yaml:3:12 'imports' expected an array, found a mapping",
    ]);
    assert.deepEqual(
      await errorsOf(
        layer(
          [
            '  imports:',
            '    - [nested]',
            '    - 1: x',
            '      path: config.json',
            '    - path: [a]',
            '    - {path: config.json, mode: "0755"}',
            '    - {path: config.json, uid: -1, gid: -5}',
            '    - {dest: /x}',
            '    -',
            '',
          ].join('\n'),
        ),
        FILES,
      ),
      [
        'STACKER_E_IMPORTS_SHAPE stacker.yaml:4:7 could not read imports entry: expected a path or a mapping, found a list',
        "STACKER_E_IMPORTS_SHAPE stacker.yaml:5:7 key '1' in import is not a string",
        "STACKER_E_IMPORT_FIELD stacker.yaml:7:13 value for 'path' in import is not a string",
        "STACKER_E_IMPORT_FIELD stacker.yaml:8:33 value for 'mode' in import is not an integer",
        "STACKER_E_IMPORT_FIELD stacker.yaml:9:32 'uid' (-1) cannot be negative",
        "STACKER_E_IMPORT_FIELD stacker.yaml:9:41 'gid' (-5) cannot be negative",
        "STACKER_E_IMPORTS_SHAPE stacker.yaml:10:7 No 'path' entry found in import",
        'STACKER_E_IMPORTS_SHAPE stacker.yaml:11:6 could not read imports entry: expected a path or a mapping, found null',
      ],
    );
  });

  it('relative dest, bad hash, bad mode', async () => {
    assert.deepEqual(
      await errorsOf(
        layer('  imports:\n    - {path: config.json, dest: opt/}\n    - {path: config.json, hash: 1234}\n    - {path: config.json, hash: "sha512:' + HEX + '"}\n    - {path: config.json, mode: 077777}\n'),
        FILES,
      ),
      [
        "STACKER_E_IMPORT_FIELD stacker.yaml:4:33 'dest' path cannot be relative",
        'STACKER_E_BAD_HASH stacker.yaml:5:33 Given hash 1234 is not valid',
        `STACKER_E_BAD_HASH stacker.yaml:6:33 Given hash sha512:${HEX} is not valid`,
        "STACKER_E_IMPORT_FIELD stacker.yaml:7:33 'mode' (32767) is not a valid file mode",
      ],
    );
  });

  it('both import and imports', async () => {
    assert.deepEqual(await errorsOf(layer('  imports: [config.json]\n  import: [install.sh]\n'), FILES), [
      "STACKER_E_IMPORT_BOTH stacker.yaml:4:3 layer 'l' cannot have both 'import' and 'imports'",
    ]);
  });

  it('--require-hash: http(s) imports need a hash (legacy import too); others do not', async () => {
    const yaml = layer(`  imports:\n    - config.json\n    - stacker://x/y\n    - https://h/a\n    - {path: http://h/b, hash: ${HEX}}\n`);
    assert.deepEqual(await errorsOf(yaml, FILES, { requireHash: true }), [
      'STACKER_E_HASH_REQUIRED stacker.yaml:6:7 Remote import needs a hash in yaml for path: https://h/a',
    ]);
    assert.deepEqual(await errorsOf(layer('  import: http://h/c\n'), {}, { requireHash: true }), [
      'STACKER_E_HASH_REQUIRED stacker.yaml:3:11 Remote import needs a hash in yaml for path: http://h/c',
    ]);
    await specOf(yaml, FILES); // without the flag: fine
  });

  it('a missing local import names the resolved path, with a hint', async () => {
    const dir = await project({ 'stacker.yaml': layer('  imports:\n    - config.json\n    - nope.txt\n    - {path: gone/, dest: /x/}\n'), 'config.json': '' });
    const { lines, errors } = await failures(dir);
    assert.deepEqual(lines, [
      `STACKER_E_IMPORT_MISSING stacker.yaml:5:7 import 'nope.txt' of layer 'l' not found (looked for ${path.join(dir, 'nope.txt')})`,
      `STACKER_E_IMPORT_MISSING stacker.yaml:6:7 import 'gone/' of layer 'l' not found (looked for ${path.join(dir, 'gone')}/)`,
    ]);
    assert.equal(errors[0]!.hint, "paths are relative to the stacker.yaml's folder");
  });

  it('malformed stacker:// and unsupported schemes', async () => {
    assert.deepEqual(await errorsOf(layer('  imports: [stacker://nolayer, "stacker:///p", ftp://h/x]\n')), [
      "STACKER_E_IMPORT_URL stacker.yaml:3:13 invalid stacker:// import 'stacker://nolayer': expected stacker://<layer>/<path>",
      "STACKER_E_IMPORT_URL stacker.yaml:3:32 invalid stacker:// import 'stacker:///p': expected stacker://<layer>/<path>",
      "STACKER_E_IMPORT_URL stacker.yaml:3:48 unsupported import scheme 'ftp' in 'ftp://h/x'",
    ]);
  });
});
