import { StackerError, type Digest } from '../core/index.js';
import { MAX_MANIFEST_BYTES, checkImageConfig, checkIndex, checkManifest, parseJsonBytes, sniffManifestKind } from './documents.js';
import { OciLayout } from './layout.js';
import { normalizeLayerMediaType } from './media-types.js';
import { formatPlatform, selectPlatform, type PlatformWant } from './platform.js';
import type { PulledImage } from './pulled-image.js';
import { REF_NAME_ANNOTATION, type Descriptor } from './types.js';

/** Picks the top-level descriptor for `tag`, or the only entry when no tag is given. */
async function topDescriptor(src: OciLayout, tag: string | undefined, name: string): Promise<Descriptor> {
  if (tag !== undefined) {
    const d = await src.resolveTag(tag);
    if (d === undefined) {
      const tags = await src.listTags();
      throw new StackerError('STACKER_E_TAG_NOT_FOUND', `tag "${tag}" not found in OCI layout ${src.dir}`, {
        hint: tags.length > 0 ? `tags there: ${tags.join(', ')}` : 'the layout has no tags',
      });
    }
    return d;
  }
  const all = (await src.readIndex()).manifests;
  if (all.length !== 1) {
    throw new StackerError('STACKER_E_TAG_NOT_FOUND', `${name}: no tag given and the layout holds ${all.length} images`, {
      hint: `write ${name}:<tag>; tags there: ${all.map((m) => m.annotations?.[REF_NAME_ANNOTATION] ?? formatPlatform(m.platform)).join(', ')}`,
    });
  }
  return all[0]!;
}

/**
 * Copies the image tagged `tag` in the layout at `srcDir` (an `oci:` base) into `store`: the
 * platform manifest (picked from an index by os/arch), its config and layers. Every blob is
 * verified while it is imported (hard links when possible). `srcDir` may be the store itself.
 */
export async function pullFromLayout(
  srcDir: string,
  tag: string | undefined,
  store: OciLayout,
  want: PlatformWant,
): Promise<PulledImage> {
  const name = tag === undefined ? `oci:${srcDir}` : `oci:${srcDir}:${tag}`;
  const src = await OciLayout.open(srcDir, { create: false, paramName: 'url' });
  let desc = await topDescriptor(src, tag, name);
  let indexDigest: Digest | undefined;
  for (let depth = 0; ; depth++) {
    const bytes = await src.readBlob(desc.digest, desc.size, MAX_MANIFEST_BYTES);
    const doc = parseJsonBytes(bytes, 'manifest', name);
    if (sniffManifestKind(doc, desc.mediaType) !== 'index') break;
    if (depth > 0) throw new StackerError('STACKER_E_UNSUPPORTED_MANIFEST', `${name}: nested indexes are not supported`);
    indexDigest = desc.digest;
    desc = selectPlatform(checkIndex(doc, name), want, name);
  }
  const manifestBytes = await src.readBlob(desc.digest, desc.size, MAX_MANIFEST_BYTES);
  const manifest = checkManifest(parseJsonBytes(manifestBytes, 'manifest', name), name);
  for (const b of [manifest.config, ...manifest.layers]) {
    await store.importBlob(src.blobPath(b.digest), b.digest, b.size).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw new StackerError('STACKER_E_BLOB_MISSING', `${name}: blob ${b.digest} is missing from ${src.dir}`);
      throw e;
    });
  }
  await store.importBlob(src.blobPath(desc.digest), desc.digest, desc.size);
  const config = checkImageConfig(await store.readJson(manifest.config.digest, manifest.config.size), `config of ${name}`);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new StackerError('STACKER_E_BAD_MANIFEST', `invalid image ${name}: ${manifest.layers.length} layers but ${config.rootfs.diff_ids.length} diff_ids`);
  }
  const mediaType = manifest.mediaType ?? desc.mediaType;
  const out: PulledImage = {
    ref: name,
    manifestDigest: desc.digest,
    manifestDescriptor: { mediaType, digest: desc.digest, size: desc.size },
    manifest,
    config,
    configDescriptor: manifest.config,
    layers: manifest.layers.map((l) => ({ ...l, mediaType: normalizeLayerMediaType(l.mediaType) })),
  };
  if (indexDigest !== undefined) out.indexDigest = indexDigest;
  return out;
}
