import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { StackerError } from '../../core/index.js';
import { DOCKER_HUB } from '../image-ref.js';

/** A user name and password (or token) for a registry. Never log or store these. */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * The auth files consulted, in order (the containers-auth.json(5) order, then Docker's):
 * `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
 * `~/.config/containers/auth.json`, `~/.docker/config.json`.
 */
export function authFilePaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME ?? homedir();
  const out: string[] = [];
  if (env.REGISTRY_AUTH_FILE) out.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) out.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  out.push(join(home, '.config', 'containers', 'auth.json'));
  out.push(join(home, '.docker', 'config.json'));
  return out;
}

/**
 * Normalizes an `auths` key: Docker writes URLs (`https://index.docker.io/v1/`), containers writes
 * `host[/path]`. Docker Hub's aliases all become `docker.io`.
 */
export function normalizeAuthKey(key: string): string {
  let k = key.trim();
  const m = /^https?:\/\/(.*)$/.exec(k);
  if (m !== null) k = m[1]!.split('/')[0]!; // a URL key names a host only
  k = k.replace(/\/+$/, '');
  const slash = k.indexOf('/');
  const host = slash < 0 ? k : k.slice(0, slash);
  const path = slash < 0 ? '' : k.slice(slash);
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') return `${DOCKER_HUB}${path}`;
  return k;
}

/** Keys to try for `registry/repository`, most specific first (longest-prefix match). */
export function authKeyCandidates(registry: string, repository: string): string[] {
  const parts = repository.split('/');
  const out: string[] = [];
  for (let n = parts.length; n >= 1; n--) out.push(`${registry}/${parts.slice(0, n).join('/')}`);
  out.push(registry);
  return out;
}

function decodeAuth(auth: string, file: string, key: string): Credentials {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) {
    throw new StackerError('STACKER_E_AUTH_FILE', `malformed "auth" for "${key}" in ${file}`, {
      hint: 'the value must be base64 of "user:password"',
    });
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * Finds credentials for `registry/repository`. The first file that has an entry for the
 * repository or one of its prefixes wins; within a file the longest matching key wins.
 * Missing files are skipped; unreadable JSON is an error naming the file (never its content).
 */
export async function lookupCredentials(
  registry: string,
  repository: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Credentials | undefined> {
  const candidates = authKeyCandidates(registry, repository);
  for (const file of authFilePaths(env)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8'); // small files: no threadpool round trip
    } catch {
      continue;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new StackerError('STACKER_E_AUTH_FILE', `credentials file ${file} is not valid JSON`);
    }
    const auths = (doc as { auths?: unknown } | null)?.auths;
    if (auths === null || typeof auths !== 'object') continue;
    const byKey = new Map<string, { auth?: unknown; username?: unknown; password?: unknown }>();
    for (const [k, v] of Object.entries(auths as Record<string, unknown>)) {
      if (v !== null && typeof v === 'object') byKey.set(normalizeAuthKey(k), v as Record<string, unknown>);
    }
    for (const key of candidates) {
      const entry = byKey.get(key);
      if (entry === undefined) continue;
      if (typeof entry.auth === 'string' && entry.auth !== '') return decodeAuth(entry.auth, file, key);
      if (typeof entry.username === 'string' && typeof entry.password === 'string') {
        return { username: entry.username, password: entry.password };
      }
    }
  }
  return undefined;
}
