import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cleanup, makeProject, runStacker } from './rig.js';

/** Every invalid stacker.yaml fails with file:line:col, the source line, a code and a hint, and leaves no oci/. */
describe('stacker build: errors in a stacker.yaml', () => {
  after(cleanup);

  const cases: { name: string; yaml: string; files?: Record<string, string>; expect: string }[] = [
    {
      name: 'unknown directive',
      yaml: 'a:\n  from: {type: scratch}\n  rnu: echo hi\n',
      expect: "error[STACKER_E_UNKNOWN_DIRECTIVE]: unknown directive 'rnu' in layer 'a'\n  --> stacker.yaml:3:3\n  |\n3 |   rnu: echo hi\n  |   ^^^",
    },
    {
      name: 'built without tag',
      yaml: 'a:\n  from:\n    type: built\n',
      expect: "error[STACKER_E_FROM_TAG]: a: from tag cannot be empty for image type 'built'",
    },
    {
      name: 'a layer that is not a mapping',
      yaml: 'a: just a string\n',
      expect: "error[STACKER_E_LAYER_NOT_MAPPING]: layer 'a' must be a mapping of directives, found a string\n  --> stacker.yaml:1:4",
    },
    {
      name: 'missing import',
      yaml: 'a:\n  from: {type: scratch}\n  imports:\n    - nothere.txt\n',
      expect: "error[STACKER_E_IMPORT_MISSING]: import 'nothere.txt' of layer 'a' not found",
    },
    {
      name: 'bad hash',
      yaml: 'a:\n  from: {type: scratch}\n  imports:\n    - path: f\n      hash: 1234\n',
      files: { f: 'x' },
      expect: 'error[STACKER_E_BAD_HASH]: Given hash 1234 is not valid',
    },
    {
      name: "':' in a name",
      yaml: 'a:b:\n  from: {type: scratch}\n',
      expect: "error[STACKER_E_LAYER_NAME]: using ':' in the layer name (a:b) is forbidden due to overlay constraints\n  --> stacker.yaml:1:1",
    },
    {
      name: 'duplicate layer name',
      yaml: 'a:\n  from: {type: scratch}\na:\n  from: {type: scratch}\n',
      expect: 'error[STACKER_E_DUPLICATE_LAYER]: duplicate layer name: both stacker.yaml and stacker.yaml have a\n  --> stacker.yaml:3:1',
    },
    {
      name: 'dependency cycle',
      yaml: 'a:\n  from: {type: built, tag: b}\nb:\n  from: {type: built, tag: a}\n',
      expect: 'error[STACKER_E_CYCLE]: dependency cycle: ',
    },
    {
      name: 'missing dependency',
      yaml: 'test:\n  from: {type: built, tag: notatag}\n',
      expect: "error[STACKER_E_MISSING_DEPENDENCY]: couldn't find dependencies for test: base layer notatag\n  --> stacker.yaml:2:9",
    },
    {
      name: 'missing substitution',
      yaml: 'a:\n  from: {type: scratch}\n  run: echo ${{NAME}}\n',
      expect: 'error[STACKER_E_SUBST_MISSING]: no value for substitution NAME\n  --> stacker.yaml:3:13',
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const p = await makeProject({ 'stacker.yaml': c.yaml, ...(c.files ?? {}) });
      const r = await runStacker(p, ['build']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.ok(r.stderr.includes(c.expect), `stderr:\n${r.stderr}\nexpected to contain:\n${c.expect}`);
      assert.match(r.stderr, /hint: /);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --debug');
      assert.equal(existsSync(p.path('oci')), false, 'oci/ must not be created');
    });
  }
});
