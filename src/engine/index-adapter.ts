import type { Digest } from '../core/index.js';
import type { NewNodeRecord, NodeRecord } from '../cache/index.js';
import { MediaType } from '../oci/media-types.js';
import type { NodeResult } from './node-result.js';

/** Engine result -> index row (the index keeps the layer list with diff_ids inline). */
export function toRecord(key: string, layer: string, inputDocument: string, r: NodeResult, buildOnly: boolean): NewNodeRecord {
  return {
    key: key as Digest,
    layer,
    inputDocument,
    manifestDigest: r.manifest.digest,
    configDigest: r.config.digest,
    layers: r.layers.map((d, i) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size, diffId: r.diffIds[i]! })),
    snapshot: r.diffIds,
    buildOnly,
    extra: { manifestSize: r.manifest.size, configSize: r.config.size, annotations: r.annotations },
  };
}

export function fromRecord(rec: NodeRecord): NodeResult {
  const extra = (rec.extra ?? {}) as { manifestSize?: number; configSize?: number; annotations?: Record<string, string> };
  return {
    manifest: { mediaType: MediaType.ociManifest, digest: rec.manifestDigest!, size: extra.manifestSize ?? 0 },
    config: { mediaType: MediaType.ociConfig, digest: rec.configDigest!, size: extra.configSize ?? 0 },
    layers: rec.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    diffIds: rec.snapshot,
    annotations: extra.annotations ?? {},
  };
}
