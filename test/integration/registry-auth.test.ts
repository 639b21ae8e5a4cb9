/**
 * Registry auth against real docker-registry instances: htpasswd (Basic) and the token flow
 * (Bearer, with a local token server). Credentials come from an auth.json named by
 * REGISTRY_AUTH_FILE, as a user would configure them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseImageRef, type DockerImageRef } from '../../src/oci/image-ref.js';
import { OciLayout } from '../../src/oci/layout.js';
import { RegistryClient } from '../../src/oci/registry/client.js';
import { addImage, initLayout, skopeo, skopeoInspect, tag, type HandImage } from '../helpers/registry-fixtures.js';
import { startRegistry, type StartedRegistry } from '../helpers/registry.js';

let work: string;
let src: string;
let img: HandImage;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'registry-auth-'));
  src = join(work, 'src');
  await initLayout(src);
  img = await addImage(src, 'amd64', [{ 'etc/motd': 'auth test\n' }]);
  await tag(src, 'img', img.manifest);
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

const isCode = (code: string) => (e: unknown) => (e as { code?: string }).code === code;

for (const mode of ['basic', 'token'] as const) {
  describe(`${mode} auth`, () => {
    let reg: StartedRegistry;
    let authFile: string;
    const ref = (p: string) => parseImageRef(`docker://${reg.url}/${p}`) as DockerImageRef;

    before(async () => {
      reg = await startRegistry({ auth: mode });
      await skopeo('copy', '-q', '--dest-tls-verify=false', '--dest-creds', `${reg.username}:${reg.password}`, `oci:${src}:img`, `docker://${reg.url}/team/app:1`);
      authFile = join(work, `auth-${mode}.json`);
      const auth = Buffer.from(`${reg.username}:${reg.password}`).toString('base64');
      await writeFile(authFile, JSON.stringify({ auths: { [`${reg.url}/team`]: { auth } } }));
    });
    after(async () => {
      await reg?.stop();
    });

    test('pull with credentials from $REGISTRY_AUTH_FILE (prefix match)', async () => {
      const store = await OciLayout.open(join(work, `store-${mode}`), { create: true });
      const c = new RegistryClient({ insecure: true, env: { HOME: work, REGISTRY_AUTH_FILE: authFile } });
      const p = await c.pull(ref('team/app:1'), store, { os: 'linux', arch: 'amd64' });
      assert.equal(p.manifestDigest, img.manifest.digest);
      if (mode === 'token') {
        const last = reg.tokenRequests.at(-1);
        assert.equal(last?.user, reg.username);
        assert.ok(last?.scope.includes('repository:team/app:pull'));
      }
    });

    test('no credentials: a clear auth error', async () => {
      const store = await OciLayout.open(join(work, `store-none-${mode}`), { create: true });
      const c = new RegistryClient({ insecure: true, env: { HOME: work }, tries: 1 });
      await assert.rejects(c.pull(ref('team/app:1'), store, { os: 'linux', arch: 'amd64' }), (e: Error & { code?: string; hint?: string }) => {
        assert.equal(e.code, 'STACKER_E_REGISTRY_AUTH');
        assert.match(e.hint ?? '', /REGISTRY_AUTH_FILE/);
        return true;
      });
    });

    test('wrong credentials are refused and never echoed', async () => {
      const store = await OciLayout.open(join(work, `store-bad-${mode}`), { create: true });
      const c = new RegistryClient({ insecure: true, env: {}, credentials: { username: reg.username, password: 'WRONG-SECRET' }, tries: 1 });
      await assert.rejects(c.pull(ref('team/app:1'), store, { os: 'linux', arch: 'amd64' }), (e: Error & { code?: string; hint?: string }) => {
        assert.equal(e.code, 'STACKER_E_REGISTRY_AUTH');
        assert.ok(!e.message.includes('WRONG-SECRET') && !(e.hint ?? '').includes('WRONG-SECRET'));
        return true;
      });
    });

    test('push with credentials; skopeo reads it back', async () => {
      const l = await OciLayout.open(src, { create: false });
      const c = new RegistryClient({ insecure: true, env: { HOME: work, REGISTRY_AUTH_FILE: authFile } });
      const res = await c.push(l, 'img', ref('team/pushed:2'));
      assert.equal(res.digest, img.manifest.digest);
      assert.equal((await skopeoInspect(`docker://${reg.url}/team/pushed:2`, `${reg.username}:${reg.password}`)).Digest, img.manifest.digest);
      if (mode === 'token') assert.ok(reg.tokenRequests.some((r) => r.scope.includes('repository:team/pushed:pull,push')));
      // The credentials are scoped to team/: another namespace gets nothing and is refused.
      await assert.rejects(c.push(l, 'img', ref('other/x:1')), isCode('STACKER_E_REGISTRY_AUTH'));
    });
  });
}
