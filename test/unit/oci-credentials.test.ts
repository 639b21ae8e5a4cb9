import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseChallenge } from '../../src/oci/registry/challenge.js';
import { authFilePaths, lookupCredentials, normalizeAuthKey } from '../../src/oci/registry/credentials.js';

let home: string;
before(async () => {
  home = await mkdtemp(join(tmpdir(), 'oci-creds-'));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('WWW-Authenticate challenges parse, quoted commas included', () => {
  assert.deepEqual(
    parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"'),
    {
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull,push' },
    },
  );
  assert.deepEqual(parseChallenge('Basic realm="basic-realm"'), { scheme: 'basic', params: { realm: 'basic-realm' } });
  assert.deepEqual(parseChallenge('Basic realm=x, Bearer realm="y"'), { scheme: 'basic', params: { realm: 'x' } });
  assert.equal(parseChallenge(null), undefined);
});

test('auth keys normalize Docker URLs and Hub aliases', () => {
  assert.equal(normalizeAuthKey('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(normalizeAuthKey('registry-1.docker.io'), 'docker.io');
  assert.equal(normalizeAuthKey('http://r:5000'), 'r:5000');
  assert.equal(normalizeAuthKey('r:5000/ns/'), 'r:5000/ns');
});

test('auth file order: REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, ~/.config, ~/.docker', () => {
  assert.deepEqual(authFilePaths({ HOME: '/h', REGISTRY_AUTH_FILE: '/a.json', XDG_RUNTIME_DIR: '/run/u' }), [
    '/a.json',
    '/run/u/containers/auth.json',
    '/h/.config/containers/auth.json',
    '/h/.docker/config.json',
  ]);
});

test('longest prefix wins within a file; earlier files win over later ones', async () => {
  await mkdir(join(home, '.docker'), { recursive: true });
  await writeFile(
    join(home, '.docker', 'config.json'),
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hub:hubpw') },
        'r:5000': { auth: b64('host:hostpw') },
        'r:5000/team': { auth: b64('team:teampw') },
        'r:5000/team/app': { auth: b64('app:app:pw') },
      },
    }),
  );
  const env = { HOME: home };
  assert.deepEqual(await lookupCredentials('r:5000', 'team/app', env), { username: 'app', password: 'app:pw' });
  assert.deepEqual(await lookupCredentials('r:5000', 'team/other', env), { username: 'team', password: 'teampw' });
  assert.deepEqual(await lookupCredentials('r:5000', 'x', env), { username: 'host', password: 'hostpw' });
  assert.deepEqual(await lookupCredentials('docker.io', 'library/busybox', env), { username: 'hub', password: 'hubpw' });
  assert.equal(await lookupCredentials('other:1', 'x', env), undefined);

  const authFile = join(home, 'auth.json');
  await writeFile(authFile, JSON.stringify({ auths: { 'r:5000': { auth: b64('first:pw') } } }));
  assert.deepEqual(await lookupCredentials('r:5000', 'team/app', { ...env, REGISTRY_AUTH_FILE: authFile }), {
    username: 'first',
    password: 'pw',
  });
  await writeFile(authFile, '{not json');
  await assert.rejects(lookupCredentials('r:5000', 'x', { ...env, REGISTRY_AUTH_FILE: authFile }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'STACKER_E_AUTH_FILE');
    assert.ok(!e.message.includes('not json'));
    return true;
  });
});
