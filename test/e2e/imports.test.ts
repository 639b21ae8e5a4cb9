/**
 * Every import form, end to end, with the real CLI as the unprivileged rig user: local files and
 * directories, http(s) URLs from a server in this process, `stacker://layer/path`, and `dest`
 * placement (reference §1.4.4). Results are read with umoci (contents) and tar (owners, modes).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { lstat, readFile, readlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { cleanup, execOk, makeProject, pushBusybox, runAsUser, runStacker, startRegistry, type LocalRegistry, type Project, type PushedImage, builtLayers, unpackImage } from './rig.js';

const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');



interface TarEntry { mode: string; owner: string; size: number; link?: string }

/** `tar -tv` of a tag's layer (`index` from the end, default the last): path → mode, uid/gid, link. */
async function layerEntries(p: Project, tag: string, index = -1): Promise<Map<string, TarEntry>> {
  const info = JSON.parse((await runAsUser('skopeo', ['inspect', `oci:oci:${tag}`], p.dir)).stdout) as { Layers: string[] };
  const layer = info.Layers.at(index)!;
  const out = (await execOk('tar', ['--numeric-owner', '-tvzf', join(p.dir, 'oci/blobs/sha256', layer.slice(7))])).stdout;
  const map = new Map<string, TarEntry>();
  for (const line of out.split('\n').filter(Boolean)) {
    const m = /^(\S+)\s+(\d+\/\d+)\s+(\d+)\s+\S+\s+\S+\s+(.*)$/.exec(line);
    assert.ok(m, `unexpected tar line ${line}`);
    const [name, link] = m[4]!.split(' -> ');
    map.set(name!.replace(/\/$/, ''), { mode: m[1]!, owner: m[2]!, size: Number(m[3]), ...(link !== undefined ? { link } : {}) });
  }
  return map;
}

/** A tiny HTTP server on 127.0.0.1 that serves `files` and counts requests per path. */
class FileServer {
  readonly files = new Map<string, string>();
  readonly hits = new Map<string, number>();
  readonly headers: IncomingHttpHeaders[] = [];
  /** Paths served with an ETag (and answered 304 to a matching If-None-Match). */
  readonly etags = new Set<string>();
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
      this.headers.push({ ...req.headers, ':path': path });
      const body = this.files.get(path);
      if (body === undefined) {
        res.writeHead(404).end('not found');
        return;
      }
      const etag = this.etags.has(path) ? `"${sha256(body)}"` : undefined;
      if (etag !== undefined && req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(body), ...(etag ? { etag } : {}) }).end(body);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  count(path: string): number {
    return this.hits.get(path) ?? 0;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (s !== undefined) await new Promise((r) => s.close(r));
  }
}

describe('imports (unprivileged, end to end)', () => {
  let registry: LocalRegistry;
  let busybox: PushedImage;
  const http = new FileServer();
  before(async () => {
    registry = await startRegistry();
    busybox = await pushBusybox(registry);
    await http.start();
  });
  after(async () => {
    await http.stop();
    await registry?.stop();
    await cleanup();
  });
  const from = () => `from: {type: docker, url: ${busybox.url}, insecure: true}`;

  test('local files and directories without dest: read-only at /stacker/imports/<name> and /stacker/<name>, never in the image', async () => {
    const yaml = (withTree: boolean) => `
app:
  ${from()}
  imports:
    - cfg.txt
    - foreign.txt
${withTree ? '    - tree\n' : ''}    - path: hashed.txt
      hash: ${sha256('pinned\n').toUpperCase()}
    - path: owned.sh
      mode: 0750
      uid: 1000
      gid: 1001
    - path: ownedtree
      mode: 0600
      uid: 1234
  run: |
    mkdir -p /out
    cat /stacker/imports/cfg.txt > /out/cfg
    cat /stacker/cfg.txt > /out/cfg-talk
    cat /stacker/hashed.txt > /out/hashed
    if [ -e /stacker/imports/tree ]; then echo present; else echo absent; fi > /out/tree
    if [ -e /stacker/tree ]; then
      cat /stacker/imports/tree/sub/b.txt > /out/b
      cat /stacker/tree/sub/b.txt > /out/b-talk
      readlink /stacker/imports/tree/link > /out/link
      cat /stacker/tree/link > /out/link-content
    fi
    stat -c '%a %u %g' /stacker/imports/owned.sh /stacker/owned.sh > /out/owned
    stat -c '%a %u %g' /stacker/imports/cfg.txt /stacker/imports/foreign.txt > /out/plain
    stat -c '%n %a %u %g' /stacker/imports/ownedtree/f /stacker/imports/ownedtree/d /stacker/imports/ownedtree/d/g > /out/ownedtree
    for t in /stacker/imports/cfg.txt /stacker/cfg.txt /stacker/imports/new /stacker/new /stacker/imports/ownedtree/d/new; do
      if (echo x > $t) 2>/dev/null; then echo "$t writable"; else echo "$t read-only"; fi
    done > /out/writes
`;
    const p = await makeProject({
      'stacker.yaml': yaml(true),
      'cfg.txt': 'config\n',
      'tree/a.txt': 'a\n',
      'tree/sub/b.txt': 'b\n',
      'hashed.txt': 'pinned\n',
      'owned.sh': 'echo owned\n',
      'ownedtree/f': 'f\n',
      'ownedtree/d/g': 'g\n',
      'foreign.txt': { content: 'not mine\n', mode: 0o664 },
    });
    await runAsUser('ln', ['-s', 'a.txt', 'tree/link'], p.dir);
    // A file of another owner (readable and writable by the user) is imported like the user's own.
    if (p.rig.user.viaRunuser) await execOk('chown', [`0:${p.rig.user.gid}`, p.path('foreign.txt')]);
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    // Imports are copies, never links of the user's files: the run step is root in its user
    // namespace and could remount its read-only binds writable; mode/uid/gid go on the copies.
    const nlink = async (f: string) => (await lstat(p.path(f))).nlink;
    for (const f of ['cfg.txt', 'owned.sh', 'foreign.txt']) assert.equal(await nlink(f), 1, f);
    assert.equal((await lstat(p.path('owned.sh'))).mode & 0o777, 0o644);
    assert.equal((await lstat(p.path('ownedtree/f'))).mode & 0o777, 0o644);
    const root = await unpackImage(p, 'app');
    const out = async (f: string) => readFile(join(root, 'out', f), 'utf8');
    assert.equal(await out('cfg'), 'config\n');
    assert.equal(await out('cfg-talk'), 'config\n');
    assert.equal(await out('hashed'), 'pinned\n');
    assert.equal(await out('tree'), 'present\n');
    assert.equal(await out('b'), 'b\n');
    assert.equal(await out('b-talk'), 'b\n');
    assert.equal(await out('link'), 'a.txt\n', 'a symlink in an imported directory stays a symlink');
    assert.equal(await out('link-content'), 'a\n');
    assert.equal(await out('owned'), '750 1000 1001\n750 1000 1001\n');
    assert.equal(await out('plain'), '644 0 0\n664 0 0\n', 'mode kept, owned by root');
    assert.equal(await out('ownedtree'), [
      '/stacker/imports/ownedtree/f 600 1234 0',
      '/stacker/imports/ownedtree/d 755 1234 0',
      '/stacker/imports/ownedtree/d/g 600 1234 0',
      '',
    ].join('\n'));
    assert.equal(await out('writes'), [
      '/stacker/imports/cfg.txt read-only',
      '/stacker/cfg.txt read-only',
      '/stacker/imports/new read-only',
      '/stacker/new read-only',
      '/stacker/imports/ownedtree/d/new read-only',
      '',
    ].join('\n'));
    // Imports without dest never reach the image.
    assert.equal(existsSync(join(root, 'stacker')), false);
    const entries = await layerEntries(p, 'app');
    assert.deepEqual([...entries.keys()].filter((k) => !k.startsWith('out')), []);

    // A removed import is gone on the next build.
    await p.write('stacker.yaml', yaml(false));
    const again = await runStacker(p, ['build']);
    assert.equal(again.code, 0, again.stderr + again.stdout);
    assert.match(again.stdout, /^building app: import tree removed$/m);
    assert.equal(await readFile(join(await unpackImage(p, 'app'), 'out/tree'), 'utf8'), 'absent\n');
  });

  test("a layer rebuilt for its run keeps its import's copy; a changed file or a changed copy is copied again", async () => {
    const yaml = (n: number) => `app:\n  ${from()}\n  imports:\n    - data.bin\n    - gone.txt\n  run: cat /stacker/imports/data.bin > /out-${n}\n`;
    const p = await makeProject({ 'stacker.yaml': yaml(1), 'data.bin': 'one\n', 'gone.txt': 'x\n' });
    assert.equal((await runStacker(p, ['build'])).code, 0);
    const copy = p.path('.stacker/imports/app/data.bin');
    // A new copy may reuse the old one's inode number, never its change time.
    const stamp = async () => (await lstat(copy, { bigint: true })).ctimeNs;
    const first = await stamp();
    const content = async (n: number) => readFile(join(await unpackImage(p, 'app'), `out-${n}`), 'utf8');

    // The run changed, the import did not: the same copy; an import dropped from the file is gone.
    await p.write('stacker.yaml', yaml(2).replace('    - gone.txt\n', ''));
    const r2 = await runStacker(p, ['build']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(await stamp(), first);
    assert.equal(existsSync(p.path('.stacker/imports/app/gone.txt')), false);
    assert.equal(await content(2), 'one\n');

    // The user's file changed (same size): a new copy, and the run sees the new content.
    await p.write('data.bin', 'two\n');
    await runAsUser('sleep', ['0.2'], p.dir); // out of the racy window of the copy above
    const r3 = await runStacker(p, ['build']);
    assert.equal(r3.code, 0, r3.stderr);
    assert.notEqual(await stamp(), first);
    assert.equal(await content(2), 'two\n');

    // The copy was changed (a run step can remount its binds writable): copied again.
    await runAsUser('sh', ['-c', 'chmod u+w "$0" && printf "BAD\\n" > "$0"', copy], p.dir);
    await p.write('stacker.yaml', yaml(3));
    const r4 = await runStacker(p, ['build']);
    assert.equal(r4.code, 0, r4.stderr);
    assert.equal(await content(3), 'two\n');
  });

  test("a directory import's copy is kept likewise: a changed, added or removed file in it, or a changed copy, copies it again", async () => {
    const yaml = (n: number) => `app:\n  ${from()}\n  imports:\n    - tree\n  run: cat /stacker/imports/tree/sub/b > /out-${n}; ls /stacker/imports/tree >> /out-${n}\n`;
    const p = await makeProject({ 'stacker.yaml': yaml(1), 'tree/a': 'a\n', 'tree/sub/b': 'one\n' });
    assert.equal((await runStacker(p, ['build'])).code, 0);
    const copy = p.path('.stacker/imports/app/tree/sub/b');
    const stamp = async () => (await lstat(copy, { bigint: true })).ctimeNs;
    const content = async (n: number) => readFile(join(await unpackImage(p, 'app'), `out-${n}`), 'utf8');
    const build = async (n: number) => {
      await runAsUser('sleep', ['0.2'], p.dir); // out of the racy window of the last copy
      await p.write('stacker.yaml', yaml(n));
      const r = await runStacker(p, ['build']);
      assert.equal(r.code, 0, r.stderr);
    };
    const first = await stamp();
    await build(2);
    assert.equal(await stamp(), first, 'the run changed, the directory did not: the same copy');
    assert.equal(await content(2), 'one\na\nsub\n');

    await p.write('tree/sub/b', 'two\n');
    await build(3);
    assert.notEqual(await stamp(), first);
    assert.equal(await content(3), 'two\na\nsub\n');

    await p.write('tree/c', 'c\n');
    await build(4);
    assert.equal(await content(4), 'two\na\nc\nsub\n');
    await runAsUser('rm', [p.path('tree/c')], p.dir);
    await build(5);
    assert.equal(await content(5), 'two\na\nsub\n');

    // The copy was changed (a run step can remount its binds writable): copied again.
    await runAsUser('sh', ['-c', 'chmod u+w "$0" && printf "BAD\\n" > "$0"', copy], p.dir);
    await build(6);
    assert.equal(await content(6), 'two\na\nsub\n');
  });

  test('an import that is itself a symlink stays one at /stacker/imports/<name> and /stacker/<name>, dangling or not', async () => {
    const p = await makeProject({
      'stacker.yaml': `
app:
  ${from()}
  imports: [dangling, good, target.txt]
  run: |
    mkdir /out
    for l in /stacker/imports/dangling /stacker/dangling /stacker/imports/good /stacker/good; do readlink $l; done > /out/links
    cat /stacker/good > /out/good
`,
      'target.txt': 'target\n',
    });
    await runAsUser('ln', ['-s', 'nowhere', 'dangling'], p.dir);
    await runAsUser('ln', ['-s', 'target.txt', 'good'], p.dir);
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const root = await unpackImage(p, 'app');
    assert.equal(await readFile(join(root, 'out/links'), 'utf8'), 'nowhere\nnowhere\ntarget.txt\ntarget.txt\n');
    assert.equal(await readFile(join(root, 'out/good'), 'utf8'), 'target\n');
  });

  test('a wrong hash on a local import fails with the exact error at the import', async () => {
    const wrong = sha256('something else\n');
    const p = await makeProject({
      'stacker.yaml': `app:\n  ${from()}\n  imports:\n    - path: data.txt\n      hash: ${wrong}\n  run: cat /stacker/data.txt\n`,
      'data.txt': 'data\n',
    });
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const expect = `error[STACKER_E_IMPORT_HASH]: The requested hash of data.txt import is different than the actual hash: ${wrong} != ${sha256('data\n')}\n  --> stacker.yaml:4:7`;
    assert.ok(r.stderr.includes(expect), `stderr:\n${r.stderr}\nexpected:\n${expect}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  test('a hash edited to a wrong value is reported even when the layer is otherwise cached', async () => {
    const yaml = (hash: string) => `app:\n  ${from()}\n  imports:\n    - path: data.txt\n      hash: ${hash}\n  run: cat /stacker/data.txt\n`;
    const p = await makeProject({ 'stacker.yaml': yaml(sha256('data\n')), 'data.txt': 'data\n' });
    assert.equal((await runStacker(p, ['build'])).code, 0);
    await p.write('stacker.yaml', yaml(sha256('other\n')));
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /error\[STACKER_E_IMPORT_HASH\]: The requested hash of data.txt import is different/);
  });

  test('http imports: downloaded, hash verified, cached when pinned, rebuilt when unpinned content changes', async () => {
    http.files.set('/dl/pinned.txt', 'pinned v1\n');
    http.files.set('/dl/tool.sh', 'echo tool v1\n');
    http.files.set('/dl/tagged.txt', 'tagged v1\n');
    http.etags.add('/dl/tagged.txt');
    const yaml = (runExtra: string) => `
app:
  ${from()}
  imports:
    - path: ${http.url}/dl/pinned.txt
      hash: ${sha256('pinned v1\n')}
    - ${http.url}/dl/tool.sh?version=1
    - ${http.url}/dl/tagged.txt
  run: |
    cat /stacker/tagged.txt > /tagged
    cat /stacker/imports/pinned.txt > /pinned
    sh /stacker/tool.sh > /tool
    ${runExtra}
`;
    const p = await makeProject({ 'stacker.yaml': yaml('') });
    const first = await runStacker(p, ['build']);
    assert.equal(first.code, 0, first.stderr + first.stdout);
    let root = await unpackImage(p, 'app');
    assert.equal(await readFile(join(root, 'pinned'), 'utf8'), 'pinned v1\n');
    assert.equal(await readFile(join(root, 'tool'), 'utf8'), 'tool v1\n');
    assert.equal(http.count('/dl/pinned.txt'), 1);
    assert.equal(http.count('/dl/tool.sh'), 1, 'the plan downloads an unpinned URL once; the build uses that copy');

    // Nothing changed: cached; the pinned URL is not asked for again.
    const noop = await runStacker(p, ['build']);
    assert.equal(noop.code, 0, noop.stderr);
    assert.deepEqual(builtLayers(noop.stdout), []);
    assert.equal(http.count('/dl/tool.sh'), 2, 'an unpinned URL is checked again by each build');
    // With an ETag, that check is a conditional GET answered 304.
    const tagged = http.headers.filter((h) => h[':path'] === '/dl/tagged.txt');
    assert.equal(tagged.length, 2);
    assert.equal(tagged[0]!['if-none-match'], undefined);
    assert.equal(tagged[1]!['if-none-match'], `"${sha256('tagged v1\n')}"`);
    // A rebuild for another reason still takes the pinned file from the download cache.
    await p.write('stacker.yaml', yaml('echo again > /again'));
    const rerun = await runStacker(p, ['build']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stdout, /^building app: run changed$/m);
    assert.equal(http.count('/dl/pinned.txt'), 1, 'a pinned URL is downloaded once');
    assert.equal(http.count('/dl/tool.sh'), 3);

    // The unpinned URL's content changes: the layer rebuilds with the new content.
    http.files.set('/dl/tool.sh', 'echo tool v2\n');
    const changed = await runStacker(p, ['build']);
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stdout, new RegExp(`^building app: import ${http.url.replace(/[.]/g, '\\.')}/dl/tool\\.sh\\?version=1 changed \\(\\w{12} -> \\w{12}\\)$`, 'm'));
    root = await unpackImage(p, 'app');
    assert.equal(await readFile(join(root, 'tool'), 'utf8'), 'tool v2\n');
    assert.equal(await readFile(join(root, 'tagged'), 'utf8'), 'tagged v1\n');
    assert.equal(existsSync(join(root, 'stacker')), false);

    // Content behind an ETag changes: a full response, and a rebuild.
    http.files.set('/dl/tagged.txt', 'tagged v2\n');
    const etagChanged = await runStacker(p, ['build']);
    assert.equal(etagChanged.code, 0, etagChanged.stderr);
    assert.match(etagChanged.stdout, /^building app: import \S+\/dl\/tagged\.txt changed/m);
    assert.equal(await readFile(join(await unpackImage(p, 'app'), 'tagged'), 'utf8'), 'tagged v2\n');
  });

  test('http imports: a hash mismatch and a missing URL fail with the exact error', async () => {
    http.files.set('/dl/other.txt', 'other\n');
    const want = sha256('expected\n');
    const p = await makeProject({
      'stacker.yaml': `app:\n  ${from()}\n  imports:\n    - path: ${http.url}/dl/other.txt\n      hash: ${want}\n  run: true\n`,
    });
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const expect = `error[STACKER_E_IMPORT_HASH]: Downloaded file hash does not match. Expected: ${want} Actual: ${sha256('other\n')}\n  --> stacker.yaml:4:7`;
    assert.ok(r.stderr.includes(expect), `stderr:\n${r.stderr}\nexpected:\n${expect}`);

    const q = await makeProject({ 'stacker.yaml': `app:\n  ${from()}\n  imports:\n    - ${http.url}/dl/nothere.txt\n  run: true\n` });
    const m = await runStacker(q, ['build']);
    assert.equal(m.code, 1, m.stdout + m.stderr);
    assert.ok(m.stderr.includes(`error[STACKER_E_DOWNLOAD]: couldn't download ${http.url}/dl/nothere.txt: 404 Not Found`), m.stderr);
    assert.equal(existsSync(q.path('oci')), false);
  });

  test('stacker:// imports of files and directories from build_only and normal layers; a changed source rebuilds the importer', async () => {
    const yaml = (srcText: string) => `
src:
  ${from()}
  build_only: true
  run: |
    mkdir -p /data/sub
    echo ${srcText} > /data/a
    echo two > /data/sub/b
    ln -s a /data/link
    echo file > /f.txt
normal:
  ${from()}
  run: |
    mkdir -p /n
    echo normal > /n/x
user:
  ${from()}
  imports:
    - stacker://src/f.txt
    - stacker://src/data
    - stacker://normal/n/x
    - path: stacker://src/data/
      dest: /copied/
  run: |
    cat /stacker/imports/f.txt > /r-file
    cat /stacker/imports/data/a > /r-a
    cat /stacker/data/sub/b > /r-b
    readlink /stacker/data/link > /r-link
    cat /stacker/x > /r-normal
`;
    const p = await makeProject({ 'stacker.yaml': yaml('one') });
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    let root = await unpackImage(p, 'user');
    const read = (f: string) => readFile(join(root, f), 'utf8');
    assert.equal(await read('r-file'), 'file\n');
    assert.equal(await read('r-a'), 'one\n');
    assert.equal(await read('r-b'), 'two\n');
    assert.equal(await read('r-link'), 'a\n');
    assert.equal(await read('r-normal'), 'normal\n');
    assert.equal(await read('copied/a'), 'one\n');
    assert.equal(await read('copied/sub/b'), 'two\n');
    assert.equal(await readlink(join(root, 'copied/link')), 'a');
    assert.equal(existsSync(join(root, 'copied/data')), false);

    // Nothing changed: everything cached.
    assert.deepEqual(builtLayers((await runStacker(p, ['build'])).stdout), []);
    // The build_only source changes: it and the importer rebuild; `normal` does not.
    await p.write('stacker.yaml', yaml('uno'));
    const again = await runStacker(p, ['build']);
    assert.equal(again.code, 0, again.stderr + again.stdout);
    assert.deepEqual(builtLayers(again.stdout), ['src', 'user']);
    assert.match(again.stdout, /^building user: parent src was rebuilt$/m);
    root = await unpackImage(p, 'user');
    assert.equal(await readFile(join(root, 'r-a'), 'utf8'), 'uno\n');
    assert.equal(await readFile(join(root, 'copied/a'), 'utf8'), 'uno\n');
  });

  test('a stacker:// import of a path the layer lacks fails with the exact error', async () => {
    const p = await makeProject({
      'stacker.yaml': `src:\n  ${from()}\n  run: echo x > /x\nuser:\n  ${from()}\n  imports:\n    - stacker://src/nothere\n  run: true\n`,
    });
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(r.stderr.includes('error[STACKER_E_IMPORT_MISSING]: import stacker://src/nothere: no /nothere in layer src\n  --> stacker.yaml:7:7'), r.stderr);
  });

  test('dest imports: the placement table of stacker, mode and uid/gid, on scratch with no run', async () => {
    const yaml = `
src:
  ${from()}
  build_only: true
  run: |
    mkdir -p /dir/in
    echo y > /dir/in/y
    echo top > /dir/top
dst:
  from: {type: scratch}
  imports:
    - {path: f, dest: /files/}
    - {path: f, dest: /file2}
    - {path: f, dest: /usr/bin, mode: 0755}
    - {path: folder1, dest: /folder2}
    - {path: folder1/, dest: /folder3}
    - {path: folder1, dest: /folder4/}
    - {path: folder1/, dest: /folder5/}
    - {path: folder1/, dest: /}
    - {path: stacker://src/dir/, dest: /d/}
    - {path: f, dest: /owned/, mode: 0600, uid: 1000, gid: 1001}
    - {path: folder1, dest: /ownedtree, mode: 0640, uid: 1234, gid: 2345}
`;
    const p = await makeProject({
      'stacker.yaml': yaml,
      f: 'eff\n',
      'folder1/a': 'a\n',
      'folder1/sub/b': 'b\n',
    });
    await runAsUser('ln', ['-s', 'a', 'folder1/link'], p.dir);
    await runAsUser('chmod', ['0700', 'folder1/sub'], p.dir);
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const e = await layerEntries(p, 'dst');
    const contents = (dir: string) => [`${dir}/a`, `${dir}/link`, `${dir}/sub`, `${dir}/sub/b`].map((x) => x.replace(/^\//, ''));
    const expected = [
      'files', 'files/f', 'file2', 'usr', 'usr/bin',
      'folder2', ...contents('folder2'),
      'folder3', ...contents('folder3'),
      'folder4', 'folder4/folder1', ...contents('folder4/folder1'),
      'folder5', ...contents('folder5'),
      ...contents(''),
      'd', 'd/in', 'd/in/y', 'd/top',
      'owned', 'owned/f',
      'ownedtree', ...contents('ownedtree'),
    ];
    assert.deepEqual([...e.keys()].filter((k) => k !== '.' && k !== '').sort(), expected.sort());
    assert.equal(e.get('usr/bin')!.mode, '-rwxr-xr-x', 'a file with dest /usr/bin is written as /usr/bin');
    assert.equal(e.get('file2')!.mode, '-rw-r--r--');
    assert.equal(e.get('folder2/sub')!.mode, 'drwx------', "a copied directory keeps its mode");
    assert.equal(e.get('folder2/link')!.link, 'a');
    assert.equal(e.get('files/f')!.owner, '0/0');
    assert.deepEqual(e.get('owned/f'), { mode: '-rw-------', owner: '1000/1001', size: 4 });
    assert.equal(e.get('owned')!.owner, '0/0', 'only what is copied gets uid/gid');
    for (const x of ['ownedtree', 'ownedtree/sub', 'ownedtree/link']) assert.equal(e.get(x)!.owner, '1234/2345', x);
    assert.equal(e.get('ownedtree/a')!.mode, '-rw-r-----');
    assert.equal(e.get('ownedtree/sub/b')!.mode, '-rw-r-----');
    assert.equal(e.get('ownedtree/sub')!.mode, 'drwx------', 'mode applies to files, not directories');

    const root = await unpackImage(p, 'dst');
    assert.equal(await readFile(join(root, 'usr/bin'), 'utf8'), 'eff\n');
    assert.equal(await readFile(join(root, 'folder4/folder1/sub/b'), 'utf8'), 'b\n');
    assert.equal(await readFile(join(root, 'd/in/y'), 'utf8'), 'y\n');
    assert.equal(await readFile(join(root, 'sub/b'), 'utf8'), 'b\n');

    // A content change of a dest import rebuilds (stacker's caching gap, closed here).
    assert.deepEqual(builtLayers((await runStacker(p, ['build'])).stdout), []);
    await p.write('folder1/sub/b', 'b2\n');
    const again = await runStacker(p, ['build']);
    assert.equal(again.code, 0, again.stderr + again.stdout);
    assert.match(again.stdout, /^building dst: import /m);
    assert.equal(await readFile(join(await unpackImage(p, 'dst'), 'folder2/sub/b'), 'utf8'), 'b2\n');
  });

  test('the rebuild reason names the changed import when one path is imported to several places', async () => {
    const p = await makeProject({
      'stacker.yaml': 'dst:\n  from: {type: scratch}\n  imports:\n    - {path: f, dest: /one}\n    - {path: f, dest: /two}\n    - {path: g, dest: /g}\n',
      f: 'f\n',
      g: 'g\n',
    });
    assert.equal((await runStacker(p, ['build'])).code, 0);
    await p.write('g', 'g2\n');
    const r = await runStacker(p, ['build']);
    assert.match(r.stdout, /^building dst: import g changed \(\w{12} -> \w{12}\)$/m);
  });

  test('dest imports are visible to run and replace what the base has', async () => {
    const p = await makeProject({
      'stacker.yaml': `
app:
  ${from()}
  imports:
    - {path: tool, dest: /usr/local/bin/, mode: 0755}
    - {path: motd, dest: /etc/motd}
  run: |
    /usr/local/bin/tool > /ran
    cat /etc/motd >> /ran
`,
      tool: { content: '#!/bin/sh\necho tool ran\n', mode: 0o644 },
      motd: 'hello\n',
    });
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const root = await unpackImage(p, 'app');
    assert.equal(await readFile(join(root, 'ran'), 'utf8'), 'tool ran\nhello\n');
    const e = await layerEntries(p, 'app');
    assert.equal(e.get('usr/local/bin/tool')!.mode, '-rwxr-xr-x');
    assert.equal(e.get('etc/motd')!.mode, '-rw-r--r--');

    // A content change of a dest import rebuilds, and says which import changed.
    await p.write('tool', { content: '#!/bin/sh\necho tool v2\n', mode: 0o644 });
    const again = await runStacker(p, ['build']);
    assert.equal(again.code, 0, again.stderr + again.stdout);
    assert.match(again.stdout, /^building app: import tool changed \(\w{12} -> \w{12}\)$/m);
    assert.equal(await readFile(join(await unpackImage(p, 'app'), 'ran'), 'utf8'), 'tool v2\nhello\n');
  });
});
