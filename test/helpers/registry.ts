/**
 * A throwaway registry for tests: Debian's `docker-registry` (CNCF distribution 2.8) on a free
 * 127.0.0.1 port, plain HTTP, storage in a temp dir. Optional auth:
 * - `basic`: an htpasswd file (bcrypt, made with `htpasswd` from apache2-utils);
 * - `token`: the distribution token flow, with a tiny token server in this process that signs
 *   RS256 JWTs with a throwaway key whose self-signed certificate (made with `openssl`) is the
 *   registry's `rootcertbundle`. Anonymous token requests get a token with no access.
 * Needs: docker-registry, util-linux's setpriv, apache2-utils (basic), openssl (token).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSign, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface StartedRegistry {
  /** `127.0.0.1:<port>`: what goes before the repository in a reference. */
  url: string;
  port: number;
  /** The auth mode it runs with. */
  auth: 'none' | 'basic' | 'token';
  /** Valid credentials when auth is on. */
  username: string;
  password: string;
  /** Temp dir with the config, storage, htpasswd / certs and the log. */
  dir: string;
  /** Token requests seen by the token server (token mode), most recent last, without secrets. */
  tokenRequests: { scope: string[]; user: string | undefined }[];
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  auth?: 'none' | 'basic' | 'token';
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** A token server for the distribution token flow. */
async function startTokenServer(
  dir: string,
  username: string,
  password: string,
  seen: StartedRegistry['tokenRequests'],
): Promise<{ realm: string; certPath: string; server: Server }> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=test-token-issuer'], {
    stdio: 'ignore',
  });
  const key = readFileSync(keyPath, 'utf8');
  const certDer = Buffer.from(
    readFileSync(certPath, 'utf8').replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''),
    'base64',
  );
  const server = createHttpServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const scopes = u.searchParams.getAll('scope');
    const auth = req.headers.authorization;
    let user: string | undefined;
    if (auth !== undefined) {
      const text = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString('utf8');
      if (text !== `${username}:${password}`) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end('{"details":"bad credentials"}');
        seen.push({ scope: scopes, user: 'INVALID' });
        return;
      }
      user = username;
    }
    seen.push({ scope: scopes, user });
    const access = user === undefined
      ? []
      : scopes.map((s) => {
          const [type, ...rest] = s.split(':');
          const actions = rest.pop() ?? '';
          return { type, name: rest.join(':'), actions: actions.split(',') };
        });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] };
    const claims = {
      iss: 'test-issuer',
      sub: user ?? '',
      aud: u.searchParams.get('service') ?? '',
      exp: now + 600,
      nbf: now - 60,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(signingInput).sign(key);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token: `${signingInput}.${b64url(sig)}`, expires_in: 600 }));
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { realm: `http://127.0.0.1:${port}/token`, certPath, server };
}

async function waitReady(url: string, child: ChildProcess, log: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}):\n${await log()}`);
    }
    try {
      const res = await fetch(`http://${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not answer on http://${url}/v2/ within 20 s:\n${await log()}`);
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<StartedRegistry> {
  const mode = opts.auth ?? 'none';
  const dir = await mkdtemp(join(tmpdir(), 'stacker-registry-'));
  const username = 'tester';
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const tokenRequests: StartedRegistry['tokenRequests'] = [];
  let tokenServer: Server | undefined;
  let authYaml = '';
  if (mode === 'basic') {
    execFileSync('htpasswd', ['-Bbc', join(dir, 'htpasswd'), username, password], { stdio: 'ignore' });
    authYaml = `auth:\n  htpasswd:\n    realm: basic-realm\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (mode === 'token') {
    const t = await startTokenServer(dir, username, password, tokenRequests);
    tokenServer = t.server;
    authYaml = `auth:\n  token:\n    realm: ${t.realm}\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: ${t.certPath}\n`;
  }
  const port = await freePort();
  const url = `127.0.0.1:${port}`;
  const config = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${url}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
    authYaml,
  ].join('\n');
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, config);
  const logPath = join(dir, 'registry.log');
  const logFh = await open(logPath, 'w');
  // setpriv --pdeathsig: the registry dies with this process even when the test runner kills it.
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '/usr/bin/docker-registry', 'serve', configPath], {
    stdio: ['ignore', logFh.fd, logFh.fd],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const log = () => readFile(logPath, 'utf8').catch(() => '');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await logFh.close().catch(() => undefined);
    if (tokenServer !== undefined) await new Promise((r) => tokenServer!.close(r));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(url, child, log);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, port, auth: mode, username, password, dir, tokenRequests, stop };
}
