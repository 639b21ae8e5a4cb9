import { Readable } from 'node:stream';
import { StackerError, type Digest } from '../../core/index.js';
import { mapLimit } from '../concurrency.js';
import { MAX_MANIFEST_BYTES, checkIndex, checkManifest, parseJsonBytes, sniffManifestKind } from '../documents.js';
import { formatImageRef, type DockerImageRef } from '../image-ref.js';
import type { OciLayout } from '../layout.js';
import { MediaType } from '../media-types.js';
import type { BlobProgress } from '../pulled-image.js';
import type { Descriptor } from '../types.js';
import { RegistrySession, isTransientError, type RegistryOptions } from './session.js';

export interface PushOptions extends RegistryOptions {
  /** Blobs uploaded at once; default 3. */
  concurrency?: number;
  onProgress?: (p: BlobProgress) => void;
}

export interface PushResult {
  /** Digest of the top-level manifest or index pushed (equal to the local one: nothing is re-packed). */
  digest: Digest;
  mediaType: string;
  /** Blobs uploaded (those the registry already had are skipped). */
  uploaded: Digest[];
}

/**
 * Pushes the image tagged `tag` in `layout` to `dest` (its tag, or `tag` when it has none). For an
 * index, every child manifest is pushed by digest first. Blobs the registry has are skipped
 * (HEAD); missing ones are uploaded monolithically (POST, then PUT `?digest=`), streamed from the
 * layout with verification. The manifest goes last, so the tag never points at missing blobs.
 */
export async function pushImage(layout: OciLayout, tag: string, dest: DockerImageRef, opts: PushOptions = {}): Promise<PushResult> {
  const top = await layout.resolveTag(tag);
  if (top === undefined) {
    throw new StackerError('STACKER_E_TAG_NOT_FOUND', `tag "${tag}" not found in ${layout.dir}`);
  }
  const s = new RegistrySession(dest, 'pull,push', opts);
  const uploaded: Digest[] = [];
  const reference = dest.digest ?? dest.tag ?? tag;
  const mediaType = await pushTree(s, layout, top, reference, opts, uploaded);
  return { digest: top.digest, mediaType, uploaded };
}

async function pushTree(
  s: RegistrySession,
  layout: OciLayout,
  desc: Descriptor,
  reference: string,
  opts: PushOptions,
  uploaded: Digest[],
): Promise<string> {
  const bytes = await layout.readBlob(desc.digest, desc.size, MAX_MANIFEST_BYTES);
  const where = `${desc.digest} in ${layout.dir}`;
  const doc = parseJsonBytes(bytes, 'manifest', where);
  const mediaType = (doc as { mediaType?: string }).mediaType ?? desc.mediaType;
  if (sniffManifestKind(doc, mediaType) === 'index') {
    for (const child of checkIndex(doc, where).manifests) await pushTree(s, layout, child, child.digest, opts, uploaded);
  } else {
    const m = checkManifest(doc, where);
    const blobs = [m.config, ...m.layers].filter((d, i, all) => all.findIndex((x) => x.digest === d.digest) === i);
    await mapLimit(blobs, opts.concurrency ?? 3, async (b) => {
      if (await pushBlob(s, layout, b, opts)) uploaded.push(b.digest);
    });
  }
  await putManifest(s, reference, bytes, mediaType || MediaType.ociManifest, desc.digest);
  return mediaType;
}

/** True when the blob had to be uploaded. */
async function pushBlob(s: RegistrySession, layout: OciLayout, b: Descriptor, opts: PushOptions): Promise<boolean> {
  const head = await s.request('HEAD', s.repoUrl(`blobs/${b.digest}`));
  await head.body?.cancel().catch(() => undefined);
  if (head.status === 200) return false;
  if (head.status !== 404) throw await s.httpError(head, `cannot check blob ${b.digest} in ${formatImageRef(s.ref)}`);
  const tries = opts.tries ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      await uploadOnce(s, layout, b, opts);
      return true;
    } catch (e) {
      if (attempt >= tries || !isTransientError(e)) throw s.unreachable(e);
    }
  }
}

async function uploadOnce(s: RegistrySession, layout: OciLayout, b: Descriptor, opts: PushOptions): Promise<void> {
  const start = await s.request('POST', s.repoUrl('blobs/uploads/'), { noRetry: true });
  await start.body?.cancel().catch(() => undefined);
  const loc = start.headers.get('location');
  if (start.status !== 202 || loc === null) throw await s.httpError(start, `cannot start an upload to ${formatImageRef(s.ref)}`);
  const url = new URL(s.absolute(loc));
  url.searchParams.set('digest', b.digest);
  let sent = 0;
  const body = () => {
    sent = 0;
    const src = layout.openBlob(b.digest, b.size);
    if (opts.onProgress !== undefined) {
      src.on('data', (c: Buffer) => {
        sent += c.length;
        opts.onProgress?.({ digest: b.digest, bytes: sent, total: b.size });
      });
    }
    return Readable.toWeb(src) as unknown as ReadableStream<Uint8Array>;
  };
  const res = await s.request('PUT', url.toString(), {
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(b.size) },
    body,
    noRetry: true,
  });
  if (res.status !== 201) throw await s.httpError(res, `cannot upload blob ${b.digest} to ${formatImageRef(s.ref)}`);
  await res.body?.cancel().catch(() => undefined);
}

async function putManifest(s: RegistrySession, reference: string, bytes: Buffer, mediaType: string, digest: Digest): Promise<void> {
  const res = await s.request('PUT', s.repoUrl(`manifests/${reference}`), {
    headers: { 'Content-Type': mediaType },
    body: () => new Uint8Array(bytes) as Uint8Array<ArrayBuffer>,
  });
  if (res.status !== 201 && res.status !== 200) {
    throw await s.httpError(res, `cannot push manifest ${digest} to ${formatImageRef(s.ref)} as ${reference}`);
  }
  await res.body?.cancel().catch(() => undefined);
  const served = res.headers.get('docker-content-digest');
  if (served !== null && served.startsWith('sha256:') && served !== digest) {
    throw new StackerError('STACKER_E_REGISTRY', `the registry stored manifest ${reference} as ${served}, expected ${digest}`);
  }
}
