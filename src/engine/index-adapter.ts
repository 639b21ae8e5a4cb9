import { sha256Digest, type Digest } from '../core/index.js';
import type { NewNodeRecord, NodeRecord } from '../cache/index.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor, OciManifest } from '../oci/types.js';
import { canonicalJson } from '../fingerprint/canonical.js';
import { buildManifest } from './image-config.js';
import { LONG_ANNOTATION, type NodeResult } from './node-result.js';

interface Extra {
  manifestSize?: number;
  configSize?: number;
  annotations?: Record<string, string>;
  annotationDigests?: Record<string, Digest>;
  manifest?: Omit<OciManifest, 'annotations'>;
  /** The manifest is the plain one of the record's config and layers (kept as this flag, not a copy). */
  manifestPlain?: true;
}

/** Engine result -> index row (the index keeps the layer list with diff_ids inline). */
export function toRecord(key: string, layer: string, inputDocument: string, r: NodeResult, buildOnly: boolean): NewNodeRecord {
  const annotations: Record<string, string> = {};
  const annotationDigests: Record<string, Digest> = { ...r.annotationDigests };
  for (const [k, v] of Object.entries(r.annotations)) {
    if (v.length > LONG_ANNOTATION) annotationDigests[k] = sha256Digest(v);
    else annotations[k] = v;
  }
  const extra: Extra = { manifestSize: r.manifest.size, configSize: r.config.size, annotations };
  if (Object.keys(annotationDigests).length > 0) extra.annotationDigests = annotationDigests;
  if (r.manifestDoc !== undefined) {
    // Most manifests are nothing but the descriptors the record keeps (what `fromRecord` makes
    // of them): a flag says so in a few bytes.
    const plain = buildManifest({ ...plainDescriptor(r.config), mediaType: MediaType.ociConfig }, r.layers.map(plainDescriptor), {});
    if (canonicalJson(r.manifestDoc) === canonicalJson(plain)) extra.manifestPlain = true;
    else extra.manifest = r.manifestDoc;
  }
  return {
    key: key as Digest,
    layer,
    inputDocument,
    manifestDigest: r.manifest.digest,
    configDigest: r.config.digest,
    layers: r.layers.map((d, i) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size, diffId: r.diffIds[i]! })),
    snapshot: r.diffIds,
    buildOnly,
    extra: extra as Record<string, unknown>,
  };
}

const plainDescriptor = (d: Descriptor): Descriptor => ({ mediaType: d.mediaType, digest: d.digest, size: d.size });

export function fromRecord(rec: NodeRecord): NodeResult {
  const extra = (rec.extra ?? {}) as Extra;
  const config = { mediaType: MediaType.ociConfig, digest: rec.configDigest!, size: extra.configSize ?? 0 };
  const layers = rec.layers.map(plainDescriptor);
  const manifestDoc = extra.manifestPlain === true ? buildManifest(config, layers, {}) : extra.manifest;
  return {
    manifest: { mediaType: MediaType.ociManifest, digest: rec.manifestDigest!, size: extra.manifestSize ?? 0 },
    config,
    layers,
    diffIds: rec.snapshot,
    annotations: extra.annotations ?? {},
    ...(extra.annotationDigests !== undefined ? { annotationDigests: extra.annotationDigests } : {}),
    ...(manifestDoc !== undefined ? { manifestDoc } : {}),
  };
}
