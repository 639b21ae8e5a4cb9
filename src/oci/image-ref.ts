import { StackerError, isDigest, type Digest } from '../core/index.js';

/**
 * Image references as stacker.yaml writes them: containers-transport strings.
 *
 * - `docker://[host[:port]/]repo[:tag][@sha256:...]`, normalized like Docker does: no host means
 *   Docker Hub (`docker.io`, served at `registry-1.docker.io`), a one-component Hub repository gets
 *   `library/`, no tag and no digest means `latest`.
 * - `oci:<layout-path>[:<tag>]`: the tag is everything after the FIRST colon (stacker and
 *   containers/image split this way: `oci:dest:busybox:0.1.1` is layout `dest`, tag `busybox:0.1.1`).
 */

export interface DockerImageRef {
  transport: 'docker';
  /** Canonical registry name (`docker.io` for Docker Hub): what credentials are looked up by. */
  registry: string;
  /** `host[:port]` the distribution API is served at (`registry-1.docker.io` for Docker Hub). */
  host: string;
  /** Repository path, e.g. `library/busybox`. */
  repository: string;
  /** Undefined only when the reference is by digest alone. */
  tag?: string;
  digest?: Digest;
}

export interface OciLayoutRef {
  transport: 'oci';
  /** Layout directory as written (relative paths are the caller's to resolve). */
  path: string;
  /** Undefined when none was given: the layout must then hold exactly one image. */
  tag?: string;
}

export type ImageRef = DockerImageRef | OciLayoutRef;

export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_HOST = 'registry-1.docker.io';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;

function badRef(ref: string, why: string): StackerError {
  return new StackerError('STACKER_E_BAD_IMAGE_REF', `invalid image reference "${ref}": ${why}`, {
    hint: 'expected docker://[host[:port]/]repository[:tag][@sha256:<hex>] or oci:<layout-path>:<tag>',
  });
}

/** Parses `docker://...` or `oci:...`. */
export function parseImageRef(ref: string): ImageRef {
  if (ref.startsWith('docker://')) return parseDockerRef(ref.slice('docker://'.length), ref);
  if (ref.startsWith('oci:')) return parseOciLayoutRef(ref.slice('oci:'.length), ref);
  throw badRef(ref, 'unknown transport (supported: docker://, oci:)');
}

/** Parses the part after `docker://`. `original` is only used in messages. */
export function parseDockerRef(s: string, original = `docker://${s}`): DockerImageRef {
  if (s === '') throw badRef(original, 'empty reference');
  let rest = s;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw badRef(original, `malformed digest "${d}" (only sha256:<64 hex> is supported)`);
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw badRef(original, `invalid tag "${tag}"`);
  }
  let registry = DOCKER_HUB;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      if (!HOST.test(first)) throw badRef(original, `invalid registry host "${first}"`);
      registry = first;
      rest = rest.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_HOST) registry = DOCKER_HUB;
  if (rest === '') throw badRef(original, 'empty repository');
  if (rest !== rest.toLowerCase()) throw badRef(original, 'repository name must be lowercase');
  for (const c of rest.split('/')) {
    if (!COMPONENT.test(c)) throw badRef(original, `invalid repository component "${c}"`);
  }
  if (registry === DOCKER_HUB && !rest.includes('/')) rest = `library/${rest}`;
  if (tag === undefined && digest === undefined) tag = 'latest';
  const out: DockerImageRef = {
    transport: 'docker',
    registry,
    host: registry === DOCKER_HUB ? DOCKER_HUB_HOST : registry,
    repository: rest,
  };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** Parses `<layout-path>[:<tag>]` (the part after `oci:`, or a `type: oci` url). */
export function parseOciLayoutRef(s: string, original = `oci:${s}`): OciLayoutRef {
  const colon = s.indexOf(':');
  const path = colon >= 0 ? s.slice(0, colon) : s;
  const tag = colon >= 0 ? s.slice(colon + 1) : undefined;
  if (path === '') throw badRef(original, 'empty layout path');
  if (tag === '') throw badRef(original, 'empty tag after ":"');
  return tag === undefined ? { transport: 'oci', path } : { transport: 'oci', path, tag };
}

/** What to put in `/v2/<repo>/manifests/<reference>`: the digest when there is one, else the tag. */
export function manifestReference(ref: DockerImageRef): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** The canonical string: `docker://host/repo:tag@digest` or `oci:path:tag`. */
export function formatImageRef(ref: ImageRef): string {
  if (ref.transport === 'oci') return ref.tag === undefined ? `oci:${ref.path}` : `oci:${ref.path}:${ref.tag}`;
  return `docker://${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}
