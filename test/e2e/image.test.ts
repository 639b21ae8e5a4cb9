import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { builtLayers, makeProject, runAsUser, runStacker, useBusyboxRegistry } from './rig.js';

interface Inspect { Layers: string[] }
interface Config {
  created: string;
  author: string;
  architecture: string;
  os: string;
  config: { Env: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string; User?: string; Labels?: Record<string, string>; Volumes?: Record<string, object> };
  history: { created_by?: string; empty_layer?: boolean }[];
  rootfs: { diff_ids: string[] };
}

describe('the image: config, manifest annotations, layers', () => {
  const reg = useBusyboxRegistry();

  test('directives reach the config; annotations carry the substituted file; an empty diff adds no layer; /stacker never lands', async () => {
    const yaml = `
top:
  from: {type: docker, url: \${{BASE}}, insecure: true}
  run: |
    echo hi > /hello
    ln /hello /hello-link
  environment: {ZED: "z", ALPHA: "a"}
  labels: {tier: web}
  volumes: [/data]
  working_dir: /srv
  runtime_user: "1000"
  entrypoint: /bin/sh -c
  cmd: ["echo", "hi there"]
  annotations: {org.opencontainers.image.source: "https://example.invalid/x"}
  os: linux
  arch: amd64
empty:
  from: {type: built, tag: top}
  run: "true"
`;
    const p = await makeProject({ 'stacker.yaml': yaml });
    const env = { SOURCE_DATE_EPOCH: '1600000000' };
    const r = await runStacker(p, ['build', '--substitute', `BASE=${reg.busybox.url}`, '--annotations-namespace', 'org.example'], { env });
    assert.equal(r.code, 0, r.stderr + r.stdout);

    const cfg = JSON.parse((await runAsUser('skopeo', ['inspect', '--config', 'oci:oci:top'], p.dir)).stdout) as Config;
    assert.equal(cfg.created, '2020-09-13T12:26:40Z');
    assert.equal(cfg.author, 'stacker');
    assert.deepEqual([cfg.os, cfg.architecture], ['linux', 'amd64']);
    assert.deepEqual(cfg.config.Env.slice(-2), ['ALPHA=a', 'ZED=z']);
    assert.deepEqual(cfg.config.Entrypoint, ['/bin/sh', '-c']);
    assert.deepEqual(cfg.config.Cmd, ['echo', 'hi there']);
    assert.equal(cfg.config.WorkingDir, '/srv');
    assert.equal(cfg.config.User, '1000');
    assert.deepEqual(cfg.config.Labels, { tier: 'web' });
    assert.deepEqual(cfg.config.Volumes, { '/data': {} });
    assert.equal(cfg.history.filter((h) => !h.empty_layer).length, cfg.rootfs.diff_ids.length);
    assert.equal(cfg.history.at(-2)?.created_by, 'stacker build of top');

    const raw = JSON.parse((await runAsUser('skopeo', ['inspect', '--raw', 'oci:oci:top'], p.dir)).stdout) as { annotations: Record<string, string> };
    assert.equal(raw.annotations['org.example.stacker.stacker_yaml'], yaml.replace('${{BASE}}', reg.busybox.url));
    assert.equal(raw.annotations['org.opencontainers.image.source'], 'https://example.invalid/x');
    assert.ok(raw.annotations['org.example.stacker.stacker_version']);

    const top = JSON.parse((await runAsUser('skopeo', ['inspect', 'oci:oci:top'], p.dir)).stdout) as Inspect;
    const empty = JSON.parse((await runAsUser('skopeo', ['inspect', 'oci:oci:empty'], p.dir)).stdout) as Inspect;
    assert.deepEqual(empty.Layers, top.Layers, 'an empty diff adds no layer');

    const last = top.Layers.at(-1)!.slice(7);
    const list = (await runAsUser('tar', ['-tvzf', `oci/blobs/sha256/${last}`], p.dir)).stdout;
    assert.doesNotMatch(list, /stacker/);
    assert.doesNotMatch(list, / (proc|sys|dev|etc)\//);
    assert.match(list, /^h.* hello-link link to hello$/m);
    assert.match(list, /2020-09-13/);

    // Rebuilt on a cached parent (whose index record keeps the file's text as a digest only), a
    // layer still inherits the parent's annotations; the parent is tagged with a fresh manifest
    // holding the new text, and keeps its other annotations.
    const yaml2 = yaml.replace('run: "true"', 'run: "true # again"');
    await p.write('stacker.yaml', yaml2);
    const again = await runStacker(p, ['build', '--substitute', `BASE=${reg.busybox.url}`, '--annotations-namespace', 'org.example'], { env });
    assert.equal(again.code, 0, again.stderr + again.stdout);
    assert.deepEqual(builtLayers(again.stdout), ['empty']);
    for (const tag of ['top', 'empty']) {
      const m = JSON.parse((await runAsUser('skopeo', ['inspect', '--raw', `oci:oci:${tag}`], p.dir)).stdout) as { annotations: Record<string, string> };
      assert.equal(m.annotations['org.example.stacker.stacker_yaml'], yaml2.replace('${{BASE}}', reg.busybox.url), tag);
      assert.equal(m.annotations['org.opencontainers.image.source'], 'https://example.invalid/x', tag);
    }
  });
});
