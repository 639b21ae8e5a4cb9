/**
 * NODE_EXTRA_CA_CERTS through the launcher, end to end: bin/stacker.js, run as a program, moves
 * the variable aside so Node does not parse the certificates at every start (src/core/http.ts).
 * The certificates must still be trusted for HTTPS: a URL import from a server whose self-signed
 * certificate is trusted only through NODE_EXTRA_CA_CERTS downloads, and fails without it; and a
 * run step that asks for the variable gets it under its own name (and no fd of stacker's).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { busyboxLayout, builtLayers, cleanup, getRig, makeProject, runAsUser, unpackImage, type Project } from './rig.js';

describe('NODE_EXTRA_CA_CERTS (launcher run as a program, unprivileged)', () => {
  let server: Server;
  let url = '';
  let p: Project;

  before(async () => {
    p = await makeProject({ 'greeting.txt': 'unused\n' });
    // A self-signed certificate for 127.0.0.1, known to nobody but NODE_EXTRA_CA_CERTS.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p.path('key.pem'), '-out', p.path('ca.pem'),
      '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    server = createServer({ key: readFileSync(p.path('key.pem')), cert: readFileSync(p.path('ca.pem')) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('hello over tls\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/greeting.txt`;
    await p.copyIn(await busyboxLayout(), 'base/oci');
    await p.write('stacker.yaml', `app:
  from: {type: oci, url: base/oci:busybox}
  imports: [${url}]
  build_env_passthrough: [NODE_EXTRA_CA_CERTS, 'STACKER_.*']
  run: |
    cp /stacker/imports/greeting.txt /greeting.txt
    env > /env.txt
    ls -l /proc/self/fd/ > /fds.txt
`);
  });
  after(async () => {
    server?.close();
    await cleanup();
  });

  const stacker = async (env: Record<string, string>) => runAsUser((await getRig()).stackerBin, ['build'], p.dir, { env });

  test('without the certificate the download fails on it', async () => {
    const r = await stacker({});
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /STACKER_E_DOWNLOAD/);
    assert.match(r.stderr, /certificate/i);
  });

  test('with NODE_EXTRA_CA_CERTS the import downloads, and the run step sees the variable by its name', async () => {
    const r = await stacker({ NODE_EXTRA_CA_CERTS: p.path('ca.pem') });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.deepEqual(builtLayers(r.stdout), ['app']);
    const rootfs = await unpackImage(p, 'app');
    assert.equal(await readFile(join(rootfs, 'greeting.txt'), 'utf8'), 'hello over tls\n');
    const env = await readFile(join(rootfs, 'env.txt'), 'utf8');
    assert.match(env, new RegExp(`^NODE_EXTRA_CA_CERTS=${p.path('ca.pem')}$`, 'm'));
    assert.doesNotMatch(env, /STACKER_EXTRA_CA_CERTS/);
    // Nothing of stacker's is open in a run step (the plan's memory file once was; fds the test
    // runner itself inherited may be).
    const fds = await readFile(join(rootfs, 'fds.txt'), 'utf8');
    assert.match(fds, / 1 -> \/fds\.txt$/m);
    assert.doesNotMatch(fds, /memfd|stacker-plan|\.stacker|index\.db/);
  });
});
