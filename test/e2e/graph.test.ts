import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import type { GraphView } from '../../src/graph/view.js';
import { builtLayers, makeProject, runStacker, useBusyboxRegistry, type Project } from './rig.js';

const OFFLINE = 'docker://127.0.0.1:1/busybox:latest';

const stackerYaml = (base: string, edited: boolean): string => `
base:
  from: {type: docker, url: "${base}", insecure: true}
  imports: [install.sh]
  run: sh /stacker/imports/install.sh
app:
  from: {type: built, tag: base}
  run: echo ${edited ? 'app v2' : 'app'} > /app
tools:
  from: {type: built, tag: base}
  build_only: true
  run: echo tool > /tool
${edited ? `extra:
  from: {type: built, tag: app}
  imports: [stacker://tools/tool]
  run: cp /stacker/imports/tool /tool
offline:
  from: {type: docker, url: "${OFFLINE}"}
  run: true
` : ''}`;

const node = (view: GraphView, id: string) => {
  const n = view.nodes.find((x) => x.id === id);
  assert.ok(n, `node ${id} in ${view.nodes.map((x) => x.id).join(', ')}`);
  return n;
};

describe('stacker graph (unprivileged, end to end)', () => {
  const reg = useBusyboxRegistry();
  let p: Project;

  before(async () => {
    p = await makeProject({ 'stacker.yaml': stackerYaml(reg.busybox.url, false), 'install.sh': 'echo installed > /installed\n' });
    const r = await runStacker(p, ['build']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.deepEqual(builtLayers(r.stdout), ['base', 'app', 'tools']);
  });

  test('after a build every layer is cached, with its key and manifest; the base is resolved', async () => {
    const r = await runStacker(p, ['graph', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const view = JSON.parse(r.stdout) as GraphView;
    for (const id of ['layer:base', 'layer:app', 'layer:tools']) assert.equal(node(view, id).state, 'cached', id);
    assert.match(node(view, 'layer:app').manifest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.match(node(view, 'layer:tools').manifest ?? '', /^sha256:/); // in the store, not tagged in oci/
    const base = node(view, `base:docker:${reg.busybox.url}`);
    assert.deepEqual([base.state, base.digest], ['external', reg.busybox.digest]);
  });

  test('after an edit: stale with the reason, never built, build_only, an unreachable base unknown; tree and json', async () => {
    await p.write('stacker.yaml', stackerYaml(reg.busybox.url, true));
    const index = await p.read('oci/index.json');

    const tree = await runStacker(p, ['graph']);
    assert.equal(tree.code, 0, tree.stderr);
    const out = tree.stdout;
    assert.match(out, /^stacker\.yaml: 5 layers: 2 cached, 1 stale, 1 never built, 1 unknown, 1 build_only; 2 bases$/m);
    assert.match(out, new RegExp(`^${reg.busybox.url.replace(/[.:/]/g, '\\$&')} +docker +${reg.busybox.digest.slice(7, 19)}$`, 'm'));
    assert.match(out, /^└─ base +cached +key [0-9a-f]{12} +manifest [0-9a-f]{12}$/m);
    assert.match(out, /^ {3}├─ app +stale +run changed$/m);
    assert.match(out, /^ {3}│ {2}└─ extra +never built$/m);
    assert.match(out, /⇠ import from tools \(stacker:\/\/tools\/tool\)$/m);
    assert.match(out, /^ {3}└─ tools +cached +key [0-9a-f]{12} +manifest [0-9a-f]{12} +build_only$/m);
    assert.match(out, /^└─ offline +unknown +.*127\.0\.0\.1:1/m);
    assert.doesNotMatch(out, /\x1b\[/, 'no colors when stdout is not a TTY');

    const json = await runStacker(p, ['graph', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const view = JSON.parse(json.stdout) as GraphView;
    assert.deepEqual(view.nodes.filter((n) => n.kind === 'layer').map((n) => [n.name, n.state, n.buildOnly]), [
      ['base', 'cached', false], ['app', 'stale', false], ['tools', 'cached', true], ['extra', 'never_built', false], ['offline', 'unknown', false],
    ]);
    assert.equal(node(view, 'layer:app').reason, 'run changed');
    assert.equal(node(view, 'layer:extra').reason, 'never built');
    assert.match(node(view, 'layer:offline').reason ?? '', /127\.0\.0\.1:1/);
    const offline = node(view, `base:docker:${OFFLINE}`);
    assert.equal(offline.state, 'unknown');
    assert.match(offline.reason ?? '', /127\.0\.0\.1:1/);
    assert.ok(view.edges.some((e) => e.from === 'layer:tools' && e.to === 'layer:extra' && e.type === 'import' && e.via === 'stacker://tools/tool'));
    assert.ok(view.edges.some((e) => e.from === 'layer:app' && e.to === 'layer:extra' && e.type === 'built'));
    assert.deepEqual(view.summary, { layers: 5, cached: 2, stale: 1, never_built: 1, unknown: 1, build_only: 1, bases: 2, cycles: 0 });

    // graph built nothing and left the output as it was.
    assert.deepEqual(await p.read('oci/index.json'), index);
    assert.deepEqual(builtLayers(tree.stdout + json.stdout), []);
  });

  test('the SVG and the HTML page render in headless chromium: a picture with the state colors, search works', async () => {
    for (const f of ['svg', 'html']) {
      const r = await runStacker(p, ['graph', '--format', f, '-o', `graph.${f}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '');
    }
    const svg = screenshot(`file://${p.path('graph.svg')}`);
    const html = screenshot(`file://${p.path('graph.html')}`);
    const found = screenshot(`file://${p.path('graph.html')}#search=extra`);
    for (const [name, png] of [['svg', svg], ['html', html]] as const) {
      assert.ok(png.inked > 0.03, `${name}: ${(png.inked * 100).toFixed(1)} % of the pixels are not background`);
      assert.ok(png.count([0x2e, 0x7d, 0x32]) > 200, `${name}: the cached green border is drawn`);
      assert.ok(png.count([0xe6, 0x51, 0x00]) > 200, `${name}: the stale orange border and badge are drawn`);
      assert.ok(png.count([0x37, 0x47, 0x4f]) > 500, `${name}: the external bases are drawn`);
      assert.ok(png.count([0x1a, 0x56, 0xc4]) > 50, `${name}: the never-built blue border is drawn`);
    }
    assert.equal(html.count([0xd5, 0x00, 0xf9]), 0, 'no search highlight without a search');
    assert.ok(found.count([0xd5, 0x00, 0xf9]) > 100, 'the searched layer is highlighted');
  });

  test('a dependency cycle is drawn as a cycle, not a crash (build refuses it)', async () => {
    const c = await makeProject({ 'stacker.yaml': 'a:\n  from: {type: built, tag: b}\nb:\n  from: {type: tar, url: stacker://a/out.tar}\nc:\n  from: {type: scratch}\n' });
    const r = await runStacker(c, ['graph']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^↻ a +unknown +in a dependency cycle: a -> b -> a$/m);
    assert.match(r.stdout, /^cycle: a, b\n {2}a -> b \(tar stacker:\/\/a\/out\.tar\)\n {2}b -> a \(built\)$/m);
    assert.match(r.stdout, /^c +never built$/m);
    const dot = await runStacker(c, ['graph', '--format', 'dot']);
    assert.match(dot.stdout, /"layer:b" -> "layer:a" \[label="built", color="#d50000"/);
    const b = await runStacker(c, ['build']);
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, /STACKER_E_CYCLE/);
  });
});

interface Shot { inked: number; count(rgb: [number, number, number]): number }

/** A 1400x900 screenshot of `url` by Debian's chromium, decoded (kept in $STACKER_TEST_SHOTS if set, to look at). */
function screenshot(url: string): Shot {
  const which = spawnSync('sh', ['-c', 'command -v chromium']);
  assert.equal(which.status, 0, 'chromium is needed by this test: apt-get install chromium (.ci/run installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'stacker-chromium-'));
  try {
    const png = join(dir, 'shot.png');
    const r = spawnSync('chromium', [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'profile')}`, `--screenshot=${png}`,
      '--window-size=1400,900', '--hide-scrollbars', url,
    ], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `chromium failed: ${r.stderr}`);
    assert.ok(statSync(png).size > 10_000, 'the screenshot is not empty');
    const keep = process.env.STACKER_TEST_SHOTS;
    if (keep !== undefined) copyFileSync(png, join(keep, `graph-${url.replace(/^.*\/graph\./, '').replace(/[^a-z0-9]+/g, '-')}.png`));
    return analyse(decodePng(readFileSync(png)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function analyse(img: { width: number; height: number; rgb: (i: number) => [number, number, number] }): Shot {
  const n = img.width * img.height;
  let inked = 0;
  for (let i = 0; i < n; i++) {
    const [r, g, b] = img.rgb(i);
    if (Math.abs(r - 0xfb) + Math.abs(g - 0xfb) + Math.abs(b - 0xfd) > 24 && r + g + b < 3 * 250) inked++;
  }
  return {
    inked: inked / n,
    count: (want) => {
      let c = 0;
      for (let i = 0; i < n; i++) {
        const px = img.rgb(i);
        if (Math.abs(px[0] - want[0]) + Math.abs(px[1] - want[1]) + Math.abs(px[2] - want[2]) <= 24) c++;
      }
      return c;
    },
  };
}

/** 8-bit RGB/RGBA non-interlaced PNG (what chromium writes). */
function decodePng(buf: Buffer): { width: number; height: number; rgb: (i: number) => [number, number, number] } {
  assert.equal(buf.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG file');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      assert.equal(data[12], 0, 'not interlaced');
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      assert.ok(channels > 0, `color type ${data[9]}`);
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= channels ? px[y * stride + x - channels]! : 0;
      const b = y > 0 ? px[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? px[(y - 1) * stride + x - channels]! : 0;
      const pr = (): number => {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      };
      const pred = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : pr();
      px[y * stride + x] = (v + pred) & 0xff;
    }
  }
  return { width, height, rgb: (i) => [px[i * channels]!, px[i * channels + 1]!, px[i * channels + 2]!] };
}
