import { StackerError, isDigest, sha256Digest, type Digest } from '../../core/index.js';
import { corruptError } from '../blob-io.js';
import { mapLimit } from '../concurrency.js';
import {
  MAX_CONFIG_BYTES,
  MAX_MANIFEST_BYTES,
  checkImageConfig,
  checkIndex,
  checkManifest,
  parseJsonBytes,
  sniffManifestKind,
} from '../documents.js';
import { formatImageRef, manifestReference, type DockerImageRef } from '../image-ref.js';
import type { OciLayout } from '../layout.js';
import { MANIFEST_ACCEPT, normalizeLayerMediaType } from '../media-types.js';
import { selectPlatform, type PlatformWant } from '../platform.js';
import type { BlobProgress, PulledImage } from '../pulled-image.js';
import type { Descriptor, OciManifest } from '../types.js';
import { RegistrySession, isTransientError, type RegistryOptions } from './session.js';

export interface ResolvedImage {
  ref: DockerImageRef;
  /** Digest of the single-platform manifest. */
  manifestDigest: Digest;
  manifest: OciManifest;
  /** The manifest exactly as served (its sha256 is `manifestDigest`). */
  manifestBytes: Buffer;
  /** Media type of the manifest (OCI or Docker schema 2). */
  mediaType: string;
  configDigest: Digest;
  /** Set when the reference named an index / manifest list. */
  indexDigest?: Digest;
}

export interface PullOptions extends RegistryOptions, PlatformWant {
  onProgress?: (p: BlobProgress) => void;
  /** Blobs downloaded at once; default 3. */
  concurrency?: number;
}

interface FetchedManifest {
  bytes: Buffer;
  digest: Digest;
  mediaType: string | undefined;
}

/** Reads a response body into memory, refusing more than `max` bytes. For manifests only. */
async function readCapped(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > max) throw corruptError(what, `${declared} bytes is more than the ${max} allowed`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > max) throw corruptError(what, `more than the ${max} bytes allowed`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

async function fetchManifest(s: RegistrySession, reference: string, expected?: Descriptor): Promise<FetchedManifest> {
  const what = `manifest ${reference} of docker://${s.ref.registry}/${s.ref.repository}`;
  const res = await s.request('GET', s.repoUrl(`manifests/${reference}`), { headers: { Accept: MANIFEST_ACCEPT } });
  if (res.status !== 200) throw await s.httpError(res, `cannot get ${what}`);
  const bytes = await readCapped(res, MAX_MANIFEST_BYTES, what);
  const digest = sha256Digest(bytes);
  if (isDigest(reference) && digest !== reference) throw corruptError(what, `content digest is ${digest}`);
  if (expected !== undefined && bytes.length !== expected.size) {
    throw corruptError(what, `${bytes.length} bytes, expected ${expected.size}`);
  }
  const served = res.headers.get('docker-content-digest');
  if (served !== null && served.startsWith('sha256:') && served !== digest) {
    throw corruptError(what, `registry says ${served} but the content digest is ${digest}`);
  }
  const ct = res.headers.get('content-type')?.split(';')[0]?.trim();
  return { bytes, digest, mediaType: ct === '' ? undefined : ct };
}

/** Digest and media type of what a reference points at (HEAD; no body). Undefined when absent. */
export async function headManifest(
  ref: DockerImageRef,
  opts: RegistryOptions = {},
): Promise<{ digest: Digest; mediaType: string | undefined; size: number | undefined } | undefined> {
  const s = new RegistrySession(ref, 'pull', opts);
  const res = await s.request('HEAD', s.repoUrl(`manifests/${manifestReference(ref)}`), { headers: { Accept: MANIFEST_ACCEPT } });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw await s.httpError(res, `cannot check ${formatImageRef(ref)}`);
  const d = res.headers.get('docker-content-digest');
  if (d === null || !isDigest(d)) {
    // Some registries omit the header on HEAD: fall back to hashing the manifest.
    const m = await fetchManifest(s, manifestReference(ref));
    return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
  }
  const len = Number(res.headers.get('content-length') ?? NaN);
  return { digest: d, mediaType: res.headers.get('content-type')?.split(';')[0]?.trim(), size: Number.isFinite(len) ? len : undefined };
}

/** Finds the single-platform manifest a reference stands for (picking from an index by os/arch). */
export async function resolveImage(ref: DockerImageRef, want: PlatformWant, opts: RegistryOptions = {}): Promise<ResolvedImage> {
  return resolveWith(new RegistrySession(ref, 'pull', opts), want);
}

async function resolveWith(s: RegistrySession, want: PlatformWant): Promise<ResolvedImage> {
  const name = formatImageRef(s.ref);
  let top = await fetchManifest(s, manifestReference(s.ref));
  let doc = parseJsonBytes(top.bytes, 'manifest', name);
  let indexDigest: Digest | undefined;
  if (sniffManifestKind(doc, top.mediaType) === 'index') {
    const index = checkIndex(doc, name);
    indexDigest = top.digest;
    const entry = selectPlatform(index, want, name);
    top = await fetchManifest(s, entry.digest, entry);
    doc = parseJsonBytes(top.bytes, 'manifest', name);
    if (sniffManifestKind(doc, top.mediaType ?? entry.mediaType) === 'index') {
      throw new StackerError('STACKER_E_UNSUPPORTED_MANIFEST', `${name}: nested indexes are not supported`);
    }
  }
  const manifest = checkManifest(doc, name);
  const mediaType = manifest.mediaType ?? top.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
  const out: ResolvedImage = {
    ref: s.ref,
    manifestDigest: top.digest,
    manifest,
    manifestBytes: top.bytes,
    mediaType,
    configDigest: manifest.config.digest,
  };
  if (indexDigest !== undefined) out.indexDigest = indexDigest;
  return out;
}

/** Streams one blob into the store, verified against its descriptor; retries transient failures. */
async function downloadBlob(
  s: RegistrySession,
  desc: Descriptor,
  store: OciLayout,
  tries: number,
  onProgress?: (p: BlobProgress) => void,
): Promise<void> {
  if (await store.hasBlob(desc.digest, desc.size)) return;
  const what = `blob ${desc.digest} of ${formatImageRef(s.ref)}`;
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await s.request('GET', s.repoUrl(`blobs/${desc.digest}`));
      if (res.status !== 200) throw await s.httpError(res, `cannot get ${what}`);
      let reported = 0;
      const onBytes = (bytes: number) => {
        if (onProgress !== undefined && (bytes - reported >= 1 << 20 || bytes === desc.size)) {
          reported = bytes;
          onProgress({ digest: desc.digest, bytes, total: desc.size });
        }
      };
      await store.writeBlobFrom((res.body ?? []) as AsyncIterable<Uint8Array>, { digest: desc.digest, size: desc.size }, onBytes);
      return;
    } catch (e) {
      if (attempt >= tries || !isTransientError(e)) throw s.unreachable(e);
    }
  }
}

/**
 * Pulls `ref` for a platform into `store`: the manifest (original bytes), the config and every
 * layer, each streamed to a temp file and verified by size and digest before it is renamed into
 * place. Blobs already in the store are not downloaded again. Does not tag anything.
 */
export async function pullImage(ref: DockerImageRef, store: OciLayout, opts: PullOptions): Promise<PulledImage> {
  const s = new RegistrySession(ref, 'pull', opts);
  const r = await resolveWith(s, opts);
  const name = formatImageRef(ref);
  const tries = opts.tries ?? 3;
  const cfgDesc = r.manifest.config;
  if (cfgDesc.size > MAX_CONFIG_BYTES) throw corruptError(`config of ${name}`, `${cfgDesc.size} bytes is too large`);
  await downloadBlob(s, cfgDesc, store, tries);
  const config = checkImageConfig(await store.readJson(cfgDesc.digest, cfgDesc.size), `config of ${name}`);
  if (config.rootfs.diff_ids.length !== r.manifest.layers.length) {
    throw new StackerError(
      'STACKER_E_BAD_MANIFEST',
      `invalid image ${name}: ${r.manifest.layers.length} layers but ${config.rootfs.diff_ids.length} diff_ids`,
    );
  }
  await mapLimit(r.manifest.layers, opts.concurrency ?? 3, (l) => downloadBlob(s, l, store, tries, opts.onProgress));
  await store.writeBlobFrom(r.manifestBytes, { digest: r.manifestDigest, size: r.manifestBytes.length });
  const out: PulledImage = {
    ref: name,
    manifestDigest: r.manifestDigest,
    manifestDescriptor: { mediaType: r.mediaType, digest: r.manifestDigest, size: r.manifestBytes.length },
    manifest: r.manifest,
    config,
    configDescriptor: cfgDesc,
    layers: r.manifest.layers.map((l) => ({ ...l, mediaType: normalizeLayerMediaType(l.mediaType) })),
  };
  if (r.indexDigest !== undefined) out.indexDigest = r.indexDigest;
  return out;
}
