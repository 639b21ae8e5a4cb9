import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * NODE_EXTRA_CA_CERTS, moved aside by bin/stacker.js before Node starts. Node 20 reads and parses
 * that file when it starts, before any code runs (~40 ms for Debian's 146-certificate bundle on
 * our machines, a third of a no-op build), although most commands make no TLS connection. So the
 * launcher renames it, and the certificates are read here, on the first HTTPS request only.
 */
export const DEFERRED_CA_ENV = 'STACKER_EXTRA_CA_CERTS';

type Fetch = typeof fetch;
let deferred: Fetch | undefined;

/**
 * `fetch`, trusting the certificates of NODE_EXTRA_CA_CERTS as Node does (added to its default
 * store) when the launcher deferred them: undici's own fetch with an agent that has them.
 */
export const httpFetch: Fetch = (input, init) => {
  const file = process.env[DEFERRED_CA_ENV];
  if (file === undefined || file === '') return fetch(input, init);
  deferred ??= fetchTrusting(file);
  return deferred(input, init);
};

function fetchTrusting(file: string): Fetch {
  let extra: string;
  try {
    extra = readFileSync(file, 'latin1');
  } catch (e) {
    // What Node does with a file it cannot read: warn, and go on with the bundled roots.
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
    return fetch;
  }
  // Loaded here: node:tls and undici cost start-up time a command without HTTPS should not pay.
  // Required, not imported: the bundle runs as a script, where import() is only for bundled
  // modules, and undici is not bundled (scripts/bundle.mjs).
  const require = createRequire(import.meta.url);
  const tls = require('node:tls') as typeof import('node:tls');
  const undici = require('undici') as typeof import('undici');
  const dispatcher = new undici.Agent({ connect: { secureContext: trusting(tls, extra) } });
  return ((input: Parameters<Fetch>[0], init?: RequestInit) => undici.fetch(input as string | URL, { ...(init as object), dispatcher })) as unknown as Fetch;
}

/**
 * One TLS context for every connection (a `ca` option would make undici parse the roots again
 * for each one, ~30 ms here): Node's default store — its bundled roots, or the system's with
 * --use-openssl-ca — with the extra certificates added, as NODE_EXTRA_CA_CERTS does. Adding to
 * a default context goes through its native handle (what Node does with `ca` itself); where
 * that is missing, the bundled roots and the extra certificates as `ca`.
 */
function trusting(tls: typeof import('node:tls'), extra: string): import('node:tls').SecureContext {
  const ctx = tls.createSecureContext();
  const native = (ctx as unknown as { context?: { addCACert?: (pem: string) => void } }).context;
  if (typeof native?.addCACert !== 'function') return tls.createSecureContext({ ca: [...tls.rootCertificates, extra] });
  native.addCACert(extra);
  return ctx;
}

/**
 * The environment the user ran stacker with: NODE_EXTRA_CA_CERTS back under its name. For what
 * is handed to the user's own programs (a run step's `build_env_passthrough`).
 */
export function userEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const file = env[DEFERRED_CA_ENV];
  if (file === undefined) return env;
  const { [DEFERRED_CA_ENV]: _, ...rest } = env;
  return { ...rest, NODE_EXTRA_CA_CERTS: file };
}
