import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { errorsOf, failures, project, specOf } from '../fixtures/config/helpers.js';

/** Drops `location` fields (asserted separately) so specs compare as plain data. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x) => (k === 'location' ? undefined : x)));

const FULL = `
full:
  from:
    type: docker
    url: docker://registry.local:5000/c3/minbase:1.0
    insecure: true
  overlay_dirs:
    - source: ./files
      dest: /opt/files
    - source: /abs/dir
  run:
    - echo one
    - 'echo "a: b"'
  cmd: /bin/sh -c 'echo hi'
  entrypoint: [/init, --verbose]
  full_command: /usr/bin/app --flag "x y"
  build_env:
    PROXY: http://p:3128
    EMPTY:
  build_env_passthrough: ['http_.*', TERM]
  environment:
    MODE: 0755
    DEBUG: yes
    RATIO: 1.50
  volumes: [/data, /logs]
  labels: {org.example.v: 1}
  generate_labels: |
    echo 1 > /stacker/oci-labels/x
  working_dir: /srv
  build_only: on
  binds:
    - /host/a
    - /host/b -> /mnt/b
    - {source: rel/c, dest: relc}
    - {source: /host/d}
  runtime_user: 1000
  annotations:
    org.opencontainers.image.vendor: me
  os: darwin
  arch: arm64
`;

describe('config: directives', () => {
  it('parses every directive into a LayerSpec', async () => {
    const { spec, dir, warnings } = await specOf(FULL);
    assert.deepEqual(warnings, []);
    const layer = spec.layers.get('full');
    assert.ok(layer);
    assert.deepEqual(plain(layer), {
      name: 'full',
      file: path.join(dir, 'stacker.yaml'),
      referenceDir: dir,
      from: { type: 'docker', url: 'docker://registry.local:5000/c3/minbase:1.0', insecure: true },
      imports: [],
      legacyImport: false,
      run: ['echo one', 'echo "a: b"'],
      cmd: ['/bin/sh', '-c', 'echo hi'],
      entrypoint: ['/init', '--verbose'],
      fullCommand: ['/usr/bin/app', '--flag', 'x y'],
      buildEnv: { PROXY: 'http://p:3128', EMPTY: '' },
      buildEnvPassthrough: ['http_.*', 'TERM'],
      environment: { MODE: '0755', DEBUG: 'yes', RATIO: '1.50' },
      volumes: ['/data', '/logs'],
      labels: { 'org.example.v': '1' },
      generateLabels: ['echo 1 > /stacker/oci-labels/x\n'],
      workingDir: '/srv',
      buildOnly: true,
      binds: [
        { source: '/host/a', dest: '/host/a' },
        { source: '/host/b', dest: '/mnt/b' },
        { source: path.join(dir, 'rel/c'), dest: path.join(dir, 'relc') },
        { source: '/host/d', dest: '/host/d' },
      ],
      runtimeUser: '1000',
      annotations: { 'org.opencontainers.image.vendor': 'me' },
      os: 'darwin',
      arch: 'arm64',
      overlayDirs: [
        { source: path.join(dir, 'files'), dest: '/opt/files' },
        { source: '/abs/dir', dest: '/' },
      ],
    });
  });

  it('applies defaults for a minimal layer', async () => {
    const { spec } = await specOf('m:\n  from: {type: scratch}\n', {}, { defaultArch: 'riscv64', defaultOs: 'linux' });
    assert.deepEqual(plain(spec.layers.get('m')), {
      name: 'm',
      file: spec.files[0]!.path,
      referenceDir: path.dirname(spec.files[0]!.path),
      from: { type: 'scratch', insecure: false },
      imports: [],
      legacyImport: false,
      run: [],
      buildEnv: {},
      environment: {},
      volumes: [],
      labels: {},
      generateLabels: [],
      buildOnly: false,
      binds: [],
      annotations: {},
      os: 'linux',
      arch: 'riscv64',
      overlayDirs: [],
    });
  });

  it('keeps the other image source types as written (oci and tar urls are not absolutized)', async () => {
    const { spec } = await specOf(
      'a:\n  from: {type: oci, url: out/layout:busybox:1.0}\n' +
        'b:\n  from: {type: tar, url: ./rootfs.tar.gz}\n' +
        'c:\n  from: {type: built, tag: a}\n' +
        'd:\n  from: {type: tar, url: stacker://c/out.tar}\n',
    );
    assert.deepEqual(
      [...spec.layers.values()].map((l) => plain(l.from)),
      [
        { type: 'oci', url: 'out/layout:busybox:1.0', insecure: false },
        { type: 'tar', url: './rootfs.tar.gz', insecure: false },
        { type: 'built', tag: 'a', insecure: false },
        { type: 'tar', url: 'stacker://c/out.tar', insecure: false },
      ],
    );
  });

  it('keeps layers in file order and records names and locations', async () => {
    const { spec } = await specOf('zeta:\n  from: {type: scratch}\nalpha:\n  from: {type: built, tag: zeta}\n');
    assert.deepEqual([...spec.layers.keys()], ['zeta', 'alpha']);
    assert.deepEqual(spec.files[0]!.layerNames, ['zeta', 'alpha']);
    const alpha = spec.layers.get('alpha')!;
    assert.deepEqual(alpha.location, { file: 'stacker.yaml', line: 3, col: 1, length: 5, sourceLine: 'alpha:' });
    assert.deepEqual(alpha.from.location, {
      file: 'stacker.yaml',
      line: 4,
      col: 9,
      length: 'from: {type: built, tag: zeta}'.length - 6,
      sourceLine: '  from: {type: built, tag: zeta}',
    });
  });

  it('reads YAML 1.1: 0755 is octal, yes/on are booleans', async () => {
    const { spec } = await specOf('x:\n  from: {type: scratch}\n  build_only: yes\n  imports:\n    - {path: f, mode: 0755}\n    - {path: f, mode: 0x1ff}\n', { f: '' });
    const x = spec.layers.get('x')!;
    assert.equal(x.buildOnly, true);
    assert.deepEqual(x.imports.map((i) => i.mode), [0o755, 0o777]);
  });

  it('expands anchors and << merge keys, explicit keys winning', async () => {
    const { spec } = await specOf(
      'base: &b\n  from: {type: scratch}\n  run: base\n  environment: &env {A: 1}\n' +
        'child:\n  <<: *b\n  run: child\n  labels: *env\n',
    );
    const child = spec.layers.get('child')!;
    assert.deepEqual(child.run, ['child']);
    assert.equal(child.from.type, 'scratch');
    assert.deepEqual(child.labels, { A: '1' });
  });

  it('accepts and ignores bom with a warning, and ignores unknown config keys with a warning', async () => {
    const { warnings, spec } = await specOf('config:\n  save_url: x\nb:\n  from: {type: scratch}\n  bom: {generate: true}\n');
    assert.deepEqual(warnings, [
      "stacker.yaml:2:3: unknown key 'save_url' in 'config' is ignored (valid keys: prerequisites)",
      "stacker.yaml:5:3: 'bom' in layer 'b' is deprecated and ignored",
    ]);
    assert.ok(spec.layers.has('b'));
  });

  it('treats empty passthrough as absent (stacker then uses its default list)', async () => {
    const { spec } = await specOf('a:\n  from: {type: scratch}\n  build_env_passthrough: []\nb:\n  from: {type: scratch}\n  build_env_passthrough: ["(?i)proxy.*"]\n');
    assert.equal(spec.layers.get('a')!.buildEnvPassthrough, undefined);
    assert.deepEqual(spec.layers.get('b')!.buildEnvPassthrough, ['(?i)proxy.*']);
  });

  it('accepts an empty file as no layers', async () => {
    const { spec } = await specOf('# nothing yet\n');
    assert.equal(spec.layers.size, 0);
    assert.equal(spec.files.length, 1);
  });
});

describe('config: errors', () => {
  it('unknown directive, with a suggestion and the valid list', async () => {
    const dir = await project({ 'stacker.yaml': 'app:\n  from: {type: scratch}\n  improts: [a]\n  was_bom: true\n' });
    const { lines, errors } = await failures(dir);
    assert.deepEqual(lines, [
      "STACKER_E_UNKNOWN_DIRECTIVE stacker.yaml:3:3 unknown directive 'improts' in layer 'app'",
      "STACKER_E_UNKNOWN_DIRECTIVE stacker.yaml:4:3 unknown directive 'was_bom' in layer 'app'",
    ]);
    assert.match(errors[0]!.hint!, /^did you mean 'imports'\? valid directives: from, imports, import, overlay_dirs, run, /);
    assert.deepEqual(errors[0]!.location, { file: 'stacker.yaml', line: 3, col: 3, length: 7, sourceLine: '  improts: [a]' });
  });

  it('unknown image source directive and unknown image type', async () => {
    const dir = await project({ 'stacker.yaml': 'a:\n  from: {type: dockr, urll: x}\n' });
    const { lines, errors } = await failures(dir);
    assert.deepEqual(lines, [
      "STACKER_E_FROM_TYPE stacker.yaml:2:16 unknown image type 'dockr' in layer 'a'",
      "STACKER_E_UNKNOWN_FROM_DIRECTIVE stacker.yaml:2:23 unknown image source directive 'urll' in layer 'a'",
    ]);
    assert.equal(errors[0]!.hint, "did you mean 'docker'? valid types: docker, oci, tar, built, scratch");
    assert.equal(errors[1]!.hint, "did you mean 'url'? valid keys: type, url, tag, insecure");
  });

  it('a layer that is not a mapping, and a from that is not a mapping', async () => {
    assert.deepEqual(await errorsOf('a: just a string\nb:\nc:\n  from: docker://alpine\n'), [
      "STACKER_E_LAYER_NOT_MAPPING stacker.yaml:1:4 layer 'a' must be a mapping of directives, found a string",
      "STACKER_E_LAYER_NOT_MAPPING stacker.yaml:2:1 layer 'b' must be a mapping of directives, found null",
      "STACKER_E_TYPE stacker.yaml:4:9 'from' in layer 'c' must be a mapping, found a string",
    ]);
  });

  it('missing from, from without type, built without tag, docker without url', async () => {
    assert.deepEqual(
      await errorsOf(
        'a:\n  run: x\nb:\n  from: {url: docker://x}\nc:\n  from: {type: built}\nd:\n  from:\n    type: docker\ne:\n  from:\n',
      ),
      [
        "STACKER_E_FROM_MISSING stacker.yaml:1:1 layer 'a' is invalid: no base (from directive)",
        "STACKER_E_FROM_MISSING stacker.yaml:4:9 layer 'b' is invalid: no base (from directive)",
        "STACKER_E_FROM_TAG stacker.yaml:6:9 c: from tag cannot be empty for image type 'built'",
        "STACKER_E_FROM_URL stacker.yaml:9:5 d: from url cannot be empty for image type 'docker'",
        "STACKER_E_FROM_MISSING stacker.yaml:11:3 layer 'e' is invalid: no base (from directive)",
      ],
    );
  });

  it("layer names: ':' forbidden, '/' forbidden, non-string keys", async () => {
    assert.deepEqual(await errorsOf('a:b:\n  from: {type: scratch}\nx/y:\n  from: {type: scratch}\n123:\n  from: {type: scratch}\nyes:\n  from: {type: scratch}\n'), [
      "STACKER_E_LAYER_NAME stacker.yaml:1:1 using ':' in the layer name (a:b) is forbidden due to overlay constraints",
      "STACKER_E_LAYER_NAME stacker.yaml:3:1 layer name 'x/y' cannot contain '/' or be '.' or '..'",
      'STACKER_E_LAYER_NAME stacker.yaml:5:1 layer name 123 is not a string',
      'STACKER_E_LAYER_NAME stacker.yaml:7:1 layer name yes is not a string',
    ]);
  });

  it('a duplicate layer name in one file names both locations', async () => {
    const dir = await project({ 'stacker.yaml': 'a:\n  from: {type: scratch}\nb:\n  from: {type: scratch}\na:\n  from: {type: scratch}\n' });
    const { lines, errors } = await failures(dir);
    assert.deepEqual(lines, ['STACKER_E_DUPLICATE_LAYER stacker.yaml:5:1 duplicate layer name: both stacker.yaml and stacker.yaml have a']);
    assert.equal(errors[0]!.hint, 'first defined at stacker.yaml:1:1; layer names must be unique across a stacker file and its prerequisites');
  });

  it('a duplicate key inside a layer', async () => {
    assert.deepEqual(await errorsOf('a:\n  from: {type: scratch}\n  run: x\n  run: y\n'), [
      "STACKER_E_DUPLICATE_KEY stacker.yaml:4:3 duplicate key 'run' in layer 'a'",
    ]);
  });

  it('wrong value types', async () => {
    const yaml = [
      'a:',
      '  from: {type: docker, url: docker://x, insecure: maybe}',
      '  run:',
      '    - echo ok',
      '    - echo a: b',
      '    - [nested]',
      '  environment: [A=1]',
      '  labels: {a: {b: c}}',
      '  build_env: {X: [1]}',
      '  annotations: text',
      '  volumes: /data',
      '  build_only: sometimes',
      '  working_dir: [a]',
      '  cmd: {a: b}',
      '  binds: {source: /a}',
      '  overlay_dirs: [/a]',
      '',
    ].join('\n');
    assert.deepEqual(await errorsOf(yaml), [
      "STACKER_E_TYPE stacker.yaml:2:51 'from.insecure' in layer 'a' must be true or false, found a string",
      "STACKER_E_TYPE stacker.yaml:5:7 item 2 of 'run' in layer 'a' must be a string, found a mapping",
      "STACKER_E_TYPE stacker.yaml:6:7 item 3 of 'run' in layer 'a' must be a string, found a list",
      "STACKER_E_TYPE stacker.yaml:7:16 'environment' in layer 'a' must be a mapping of names to strings, found a list",
      "STACKER_E_TYPE stacker.yaml:8:15 'labels.a' in layer 'a' must be a string, found a mapping",
      "STACKER_E_TYPE stacker.yaml:9:18 'build_env.X' in layer 'a' must be a string, found a list",
      "STACKER_E_TYPE stacker.yaml:10:16 'annotations' in layer 'a' must be a mapping of names to strings, found a string",
      "STACKER_E_TYPE stacker.yaml:11:12 'volumes' in layer 'a' must be a list of strings, found a string",
      "STACKER_E_TYPE stacker.yaml:12:15 'build_only' in layer 'a' must be true or false, found a string",
      "STACKER_E_TYPE stacker.yaml:13:16 'working_dir' in layer 'a' must be a string, found a list",
      "STACKER_E_TYPE stacker.yaml:14:8 'cmd' in layer 'a' must be a string or a list of strings, found a mapping",
      "STACKER_E_TYPE stacker.yaml:15:10 'binds' in layer 'a' must be a list, found a mapping",
      "STACKER_E_TYPE stacker.yaml:16:18 item 1 of 'overlay_dirs' in layer 'a' must be a mapping, found a string",
    ]);
  });

  it('os/arch null or empty', async () => {
    assert.deepEqual(await errorsOf('a:\n  from: {type: scratch}\n  os:\n  arch: ""\n'), [
      'STACKER_E_EMPTY_VALUE stacker.yaml:3:3 "os" value cannot be empty',
      'STACKER_E_EMPTY_VALUE stacker.yaml:4:3 "arch" value cannot be empty',
    ]);
  });

  it('binds: invalid string forms and a mapping without source', async () => {
    assert.deepEqual(await errorsOf('a:\n  from: {type: scratch}\n  binds:\n    - /a => /b\n    - /a /b\n    - {dest: /b}\n'), [
      'STACKER_E_BIND stacker.yaml:4:7 invalid Bind: /a => /b',
      'STACKER_E_BIND stacker.yaml:5:7 invalid Bind: /a /b',
      "STACKER_E_BIND stacker.yaml:6:7 invalid Bind: 'source' is required",
    ]);
  });

  it('overlay_dirs without source, passthrough regex, unsplittable cmd', async () => {
    assert.deepEqual(
      await errorsOf('a:\n  from: {type: scratch}\n  overlay_dirs: [{dest: /x}]\n  build_env_passthrough: ["a(b"]\n  entrypoint: sh -c "oops\n'),
      [
        "STACKER_E_OVERLAY_DIR stacker.yaml:3:18 overlay_dirs entry in layer 'a' has no 'source'",
        "STACKER_E_BAD_REGEX stacker.yaml:4:27 item 1 of 'build_env_passthrough' in layer 'a' is not a valid regular expression: a(b",
        "STACKER_E_SHLEX stacker.yaml:5:15 cannot split 'entrypoint' in layer 'a': unterminated double quote",
      ],
    );
  });

  it('the config section', async () => {
    assert.deepEqual(await errorsOf('config: [a]\n'), [
      "STACKER_E_CONFIG stacker.yaml:1:9 cannot interpret 'config' value, note the 'config' section in the stackerfile cannot contain a layer definition",
    ]);
    assert.deepEqual(await errorsOf('config:\n  from: {type: scratch}\n  prerequisites: x.yaml\n'), [
      "STACKER_E_CONFIG stacker.yaml:2:3 cannot interpret 'config' value, note the 'config' section in the stackerfile cannot contain a layer definition",
      "STACKER_E_CONFIG stacker.yaml:3:18 'prerequisites' in 'config' must be a list of paths, found a string",
    ]);
  });

  it('YAML syntax errors and a non-mapping document', async () => {
    assert.deepEqual(await errorsOf('a:\n  from: [x\nb: c\n'), [
      'STACKER_E_YAML_SYNTAX stacker.yaml:3:1 invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    assert.deepEqual(await errorsOf('- a\n- b\n'), [
      'STACKER_E_NOT_MAPPING stacker.yaml:1:1 a stacker file must be a mapping of layer names to layer definitions, found a list',
    ]);
  });

  it('unknown aliases, bad merge keys, several documents, a repeated config section', async () => {
    assert.deepEqual(await errorsOf('a:\n  from: {type: scratch}\n  run: [*nope]\n'), [
      'STACKER_E_YAML_SYNTAX stacker.yaml:3:9 invalid YAML: unknown alias *nope',
    ]);
    assert.deepEqual(await errorsOf('a: &x\n  from: {type: scratch}\nb:\n  <<: [*x, 3]\n'), [
      'STACKER_E_YAML_SYNTAX stacker.yaml:4:12 invalid YAML: a << merge key needs a mapping or a list of mappings',
    ]);
    assert.deepEqual(await errorsOf('a:\n  from: {type: scratch}\n---\nb: 1\n'), [
      'STACKER_E_YAML_SYNTAX stacker.yaml:3:1 invalid YAML: a stacker file holds a single YAML document',
    ]);
    assert.deepEqual(await errorsOf('config: {}\nconfig:\n'), ["STACKER_E_DUPLICATE_KEY stacker.yaml:2:1 duplicate key 'config' in the stacker file"]);
  });

  it('points a run line that YAML read as a mapping at the colon trap', async () => {
    const dir = await project({ 'stacker.yaml': 'a:\n  from: {type: scratch}\n  run:\n    - echo a: b\n' });
    const { errors } = await failures(dir);
    assert.equal(errors[0]!.hint, "an unquoted ': ' (colon and space) makes YAML read a mapping; quote the whole line");
    assert.deepEqual(errors[0]!.location, { file: 'stacker.yaml', line: 4, col: 7, length: 'echo a: b'.length, sourceLine: '    - echo a: b' });
  });

  it('a missing stacker file', async () => {
    const dir = await project({});
    const { lines, errors } = await failures(dir);
    assert.deepEqual(lines, ['STACKER_E_FILE_NOT_FOUND stacker file stacker.yaml not found']);
    assert.equal(errors[0]!.hint, '-f selects the stacker file (default: stacker.yaml in the current directory)');
  });

  it('collects errors from several layers into one StackerErrors', async () => {
    const dir = await project({ 'stacker.yaml': 'a:\n  from: {type: nope}\nb:\n  rnu: x\n  from: {type: scratch}\n' });
    const { errors } = await failures(dir);
    assert.deepEqual(
      errors.map((e) => e.code),
      ['STACKER_E_FROM_TYPE', 'STACKER_E_UNKNOWN_DIRECTIVE'],
    );
    assert.match(errors[1]!.hint!, /^did you mean 'run'\?/);
  });
});
