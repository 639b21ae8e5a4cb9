import { StackerError } from '../../core/index.js';
import { httpFetch } from '../../core/http.js';
import type { DockerImageRef } from '../image-ref.js';
import { parseChallenge } from './challenge.js';
import { lookupCredentials, type Credentials } from './credentials.js';

/** Options shared by every registry operation. */
export interface RegistryOptions {
  /**
   * Plain http instead of https (stacker's `insecure: true`). Node's fetch cannot skip TLS
   * verification per request, so an insecure registry is spoken to over http only; a registry
   * with a self-signed certificate needs its CA in NODE_EXTRA_CA_CERTS instead.
   */
  insecure?: boolean;
  /** Explicit credentials; when absent they are looked up in the auth files (`credentials.ts`). */
  credentials?: Credentials;
  /** Environment for the auth-file lookup (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Injected for tests; default the global fetch (with NODE_EXTRA_CA_CERTS: core/http.ts). */
  fetch?: typeof fetch;
  userAgent?: string;
  /** Total tries for transient failures (network errors, 408/429/5xx). Default 3. */
  tries?: number;
  /** First retry delay; each next one is 4x longer. Default 250 ms. */
  retryDelayMs?: number;
}

export interface RequestInitLite {
  headers?: Record<string, string>;
  /** A factory so the body can be sent again after an auth challenge or a retry. */
  body?: () => RequestInit['body'];
  /** Do not retry on network errors or 5xx (the caller retries the whole operation). */
  noRetry?: boolean;
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const MAX_REDIRECTS = 10;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** True for errors worth retrying: fetch network failures (not our own StackerErrors). */
export function isTransientError(e: unknown): boolean {
  return e instanceof TypeError || (e instanceof Error && /ECONNRESET|ETIMEDOUT|EPIPE|socket|terminated/i.test(e.message));
}

/**
 * One conversation with one repository of one registry: knows the scheme, carries the
 * Authorization it earned (bearer token for its scope, or basic credentials), retries transient
 * failures, and follows redirects itself so that Authorization never crosses to another origin
 * (distribution-spec: clients MUST NOT forward it across hosts). Credentials are never logged
 * and never put in error messages.
 */
export class RegistrySession {
  readonly ref: DockerImageRef;
  readonly base: string;
  private readonly opts: RegistryOptions;
  private readonly actions: string;
  private readonly fetchFn: typeof fetch;
  private authorization: string | undefined;
  private credentials: Credentials | undefined | null = null; // null: not looked up yet

  constructor(ref: DockerImageRef, actions: 'pull' | 'pull,push', opts: RegistryOptions = {}) {
    this.ref = ref;
    this.opts = opts;
    this.actions = actions;
    this.fetchFn = opts.fetch ?? httpFetch;
    this.base = `${opts.insecure === true ? 'http' : 'https'}://${ref.host}`;
  }

  /** `https://host/v2/<repository>/<rest>`. */
  repoUrl(rest: string): string {
    return `${this.base}/v2/${this.ref.repository}/${rest}`;
  }

  /** The URL of an upload `Location`, which may be relative to the registry. */
  absolute(location: string): string {
    return new URL(location, `${this.base}/`).toString();
  }

  async request(method: string, url: string, init: RequestInitLite = {}): Promise<Response> {
    const tries = init.noRetry === true ? 1 : (this.opts.tries ?? 3);
    const delay = this.opts.retryDelayMs ?? 250;
    let authRetried = false;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.send(method, url, init);
      } catch (e) {
        if (attempt < tries && isTransientError(e)) {
          await sleep(delay * 4 ** (attempt - 1));
          continue;
        }
        throw this.unreachable(e);
      }
      if (res.status === 401 && !authRetried) {
        const challenge = res.headers.get('www-authenticate');
        await res.body?.cancel().catch(() => undefined);
        authRetried = true;
        if (await this.authenticate(challenge)) {
          attempt--; // an auth round trip is not a failed try
          continue;
        }
        // No way to authenticate: send once more so the caller gets a real 401 to report.
        return this.send(method, url, init);
      }
      if (RETRY_STATUS.has(res.status) && attempt < tries) {
        await res.body?.cancel().catch(() => undefined);
        await sleep(delay * 4 ** (attempt - 1));
        continue;
      }
      return res;
    }
  }

  private async send(method: string, url: string, init: RequestInitLite): Promise<Response> {
    let current = new URL(url);
    const origin = current.origin;
    let m = method;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = {
        'User-Agent': this.opts.userAgent ?? 'stacker-ts',
        ...init.headers,
      };
      if (this.authorization !== undefined && current.origin === origin) headers.Authorization = this.authorization;
      const body = m === 'GET' || m === 'HEAD' ? undefined : init.body?.();
      const res = await this.fetchFn(current, {
        method: m,
        headers,
        body,
        redirect: 'manual',
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      } as RequestInit);
      const loc = res.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(res.status) || loc === null) return res;
      // Upload endpoints answer 202 with Location; only real redirects are followed here.
      await res.body?.cancel().catch(() => undefined);
      current = new URL(loc, current);
      if (res.status === 303) m = 'GET';
    }
    throw new StackerError('STACKER_E_REGISTRY', `too many redirects from ${url}`);
  }

  /** Handles a 401 challenge; true when there is new Authorization to try. */
  private async authenticate(header: string | null): Promise<boolean> {
    const ch = parseChallenge(header);
    if (ch === undefined) return false;
    const creds = await this.getCredentials();
    if (ch.scheme === 'basic') {
      if (creds === undefined) return false;
      this.authorization = basicAuth(creds);
      return true;
    }
    if (ch.scheme !== 'bearer' || ch.params.realm === undefined) return false;
    const realm = new URL(ch.params.realm);
    if (ch.params.service !== undefined) realm.searchParams.set('service', ch.params.service);
    const ours = `repository:${this.ref.repository}:${this.actions}`;
    const scopes = new Set([ours]);
    if (ch.params.scope !== undefined && ch.params.scope !== '') scopes.add(ch.params.scope);
    for (const s of scopes) realm.searchParams.append('scope', s);
    const headers: Record<string, string> = { 'User-Agent': this.opts.userAgent ?? 'stacker-ts' };
    if (creds !== undefined) headers.Authorization = basicAuth(creds);
    let res: Response;
    try {
      res = await this.fetchFn(realm, { headers, redirect: 'follow' });
    } catch (e) {
      throw new StackerError('STACKER_E_REGISTRY_AUTH', `cannot reach the token service ${realm.origin} for ${this.ref.host}`, {
        cause: e,
      });
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new StackerError(
        'STACKER_E_REGISTRY_AUTH',
        `the token service of ${this.ref.host} refused access to ${this.ref.repository} (${res.status})`,
        { hint: authHint(this.ref, creds !== undefined) },
      );
    }
    const doc = (await res.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
    const token = typeof doc.token === 'string' ? doc.token : doc.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new StackerError('STACKER_E_REGISTRY_AUTH', `the token service of ${this.ref.host} returned no token`);
    }
    this.authorization = `Bearer ${token}`;
    return true;
  }

  private async getCredentials(): Promise<Credentials | undefined> {
    if (this.credentials === null) {
      this.credentials = this.opts.credentials ?? (await lookupCredentials(this.ref.registry, this.ref.repository, this.opts.env));
    }
    return this.credentials;
  }

  unreachable(e: unknown): StackerError {
    if (e instanceof StackerError) return e;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (e as Error).message;
    return new StackerError('STACKER_E_REGISTRY_UNREACHABLE', `cannot reach registry ${this.ref.host}: ${detail}`, {
      hint:
        this.opts.insecure === true
          ? 'check that the registry is running and reachable over http'
          : `if ${this.ref.host} serves plain http, set "insecure: true" in the layer's from:`,
      cause: e,
    });
  }

  /** A StackerError for an unexpected response; reads a little of the body for the registry's error code. */
  async httpError(res: Response, what: string): Promise<StackerError> {
    let detail = '';
    try {
      const text = (await res.text()).slice(0, 4096);
      const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
      const first = doc.errors?.[0];
      if (first !== undefined) detail = `: ${[first.code, first.message].filter(Boolean).join(' ')}`;
    } catch {
      // not a distribution error body
    }
    const msg = `${what}: ${res.status} ${res.statusText}${detail}`;
    if (res.status === 401 || res.status === 403) {
      const creds = await this.getCredentials();
      return new StackerError('STACKER_E_REGISTRY_AUTH', msg, { hint: authHint(this.ref, creds !== undefined) });
    }
    if (res.status === 404) return new StackerError('STACKER_E_IMAGE_NOT_FOUND', msg);
    return new StackerError('STACKER_E_REGISTRY', msg);
  }
}

function basicAuth(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

function authHint(ref: DockerImageRef, hadCredentials: boolean): string {
  return hadCredentials
    ? `the credentials found for ${ref.registry} were refused; check them (auth.json or ~/.docker/config.json)`
    : `log in first: credentials for ${ref.registry} are read from $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json or ~/.docker/config.json`;
}
