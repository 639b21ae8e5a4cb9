import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { failures, load, project } from '../fixtures/config/helpers.js';

const scratch = (name: string): string => `${name}:\n  from: {type: scratch}\n`;
const prereqs = (...p: string[]): string => `config:\n  prerequisites:\n${p.map((x) => `    - ${x}\n`).join('')}`;

describe('config: prerequisites', () => {
  it('resolves prerequisites against the declaring file, loads them first, and orders layers across files', async () => {
    const dir = await project({
      'app/stacker.yaml': prereqs('../base/stacker.yaml', '../tools/stacker.yaml') + scratch('app') + 'app2:\n  from: {type: built, tag: tool}\n',
      'base/stacker.yaml': scratch('base'),
      // relative to tools/, not to app/ or the CWD
      'tools/stacker.yaml': prereqs('../base/stacker.yaml', 'lib/stacker.yaml') + scratch('tool'),
      'tools/lib/stacker.yaml': scratch('lib') + '  imports: [data.txt]\n',
      'tools/lib/data.txt': 'x',
    });
    const { spec } = await load(dir, { file: 'app/stacker.yaml' });
    assert.deepEqual(
      spec.files.map((f) => path.relative(dir, f.path)),
      ['base/stacker.yaml', 'tools/lib/stacker.yaml', 'tools/stacker.yaml', 'app/stacker.yaml'],
    );
    assert.deepEqual(spec.files[2]!.prerequisites, [path.join(dir, 'base/stacker.yaml'), path.join(dir, 'tools/lib/stacker.yaml')]);
    assert.deepEqual([...spec.layers.keys()], ['base', 'lib', 'tool', 'app', 'app2']);
    // an import of a prerequisite is relative to that prerequisite's folder
    assert.equal(spec.layers.get('lib')!.imports[0]!.path, path.join(dir, 'tools/lib/data.txt'));
    assert.equal(spec.layers.get('lib')!.referenceDir, path.join(dir, 'tools/lib'));
  });

  it('reports duplicate layer names across files', async () => {
    const dir = await project({ 'stacker.yaml': prereqs('b.yaml') + scratch('x'), 'b.yaml': scratch('x') });
    const { lines, errors } = await failures(dir);
    assert.deepEqual(lines, ['STACKER_E_DUPLICATE_LAYER stacker.yaml:4:1 duplicate layer name: both b.yaml and stacker.yaml have x']);
    assert.match(errors[0]!.hint!, /^first defined at b\.yaml:1:1;/);
  });

  it('reports a cycle with every file in it, at the entry that closes it', async () => {
    const dir = await project({
      'stacker.yaml': prereqs('a/a.yaml') + scratch('top'),
      'a/a.yaml': prereqs('../b/b.yaml') + scratch('a'),
      'b/b.yaml': prereqs('../a/a.yaml') + scratch('b'),
    });
    const { lines } = await failures(dir);
    assert.deepEqual(lines, ['STACKER_E_PREREQ_CYCLE b/b.yaml:3:7 prerequisite cycle: a/a.yaml -> b/b.yaml -> a/a.yaml']);
  });

  it('reports a file that requires itself', async () => {
    const dir = await project({ 'stacker.yaml': prereqs('./stacker.yaml') + scratch('top') });
    assert.deepEqual((await failures(dir)).lines, ['STACKER_E_PREREQ_CYCLE stacker.yaml:3:7 prerequisite cycle: stacker.yaml -> stacker.yaml']);
  });

  it('reports a missing prerequisite at its entry, naming the path looked for', async () => {
    const dir = await project({ 'sub/stacker.yaml': prereqs('../nope.yaml') + scratch('top') });
    const { lines, errors } = await failures(dir, { file: 'sub/stacker.yaml' });
    assert.deepEqual(lines, ["STACKER_E_FILE_NOT_FOUND sub/stacker.yaml:3:7 prerequisite '../nope.yaml' not found"]);
    assert.equal(errors[0]!.hint, `looked for ${path.join(dir, 'nope.yaml')}; prerequisites are relative to the folder of the stacker file that lists them`);
  });

  it('collects errors from several files', async () => {
    const dir = await project({ 'stacker.yaml': prereqs('b.yaml') + 'top:\n  from: {type: nah}\n', 'b.yaml': 'b:\n  from: {type: built}\n' });
    assert.deepEqual((await failures(dir)).lines, [
      "STACKER_E_FROM_TYPE stacker.yaml:5:16 unknown image type 'nah' in layer 'top'",
      "STACKER_E_FROM_TAG b.yaml:2:9 b: from tag cannot be empty for image type 'built'",
    ]);
  });

  it('applies substitutions to prerequisites too', async () => {
    const dir = await project({ 'stacker.yaml': prereqs('b.yaml') + scratch('top'), 'b.yaml': scratch('${{NAME}}') });
    const { spec } = await load(dir, { substitutions: ['NAME=fromsub'] });
    assert.deepEqual([...spec.layers.keys()], ['fromsub', 'top']);
  });
});

describe('config: stacker files over http', () => {
  let server: Server;
  let base = '';
  const pages: Record<string, string> = {
    '/s/stacker.yaml': prereqs('base.yaml') + scratch('remote') + '  imports: [local.txt]\n',
    '/s/base.yaml': scratch('remotebase'),
  };
  before(async () => {
    server = createServer((req, res) => {
      const body = pages[req.url ?? ''];
      res.writeHead(body === undefined ? 404 : 200).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it('fetches the file and resolves its relative prerequisites against the URL; imports against the CWD', async () => {
    const dir = await project({ 'local.txt': 'x' });
    const { spec } = await load(dir, { file: `${base}/s/stacker.yaml` });
    assert.deepEqual(spec.files.map((f) => f.path), [`${base}/s/base.yaml`, `${base}/s/stacker.yaml`]);
    assert.equal(spec.files[1]!.referenceDir, dir);
    assert.equal(spec.layers.get('remote')!.imports[0]!.path, path.join(dir, 'local.txt'));
  });

  it('reports a download failure', async () => {
    const dir = await project({});
    assert.deepEqual((await failures(dir, { file: `${base}/missing.yaml` })).lines, [
      `STACKER_E_FETCH couldn't download ${base}/missing.yaml: HTTP 404 Not Found`,
    ]);
  });
});
