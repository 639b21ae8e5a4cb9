import type { Digest } from '../core/index.js';
import type { Descriptor, ImageConfig, OciManifest } from './types.js';

/**
 * A base image whose manifest, config and layer blobs are all present (and verified) in a local
 * store layout. Produced by the registry client and by `pullFromLayout`.
 */
export interface PulledImage {
  /** The reference as given (`docker://...` or `oci:path:tag`). */
  ref: string;
  /** Digest of the single-platform manifest (the blob is in the store, bytes unchanged). */
  manifestDigest: Digest;
  /** Descriptor of that manifest with its original media type; what to tag in a layout. */
  manifestDescriptor: Descriptor;
  manifest: OciManifest;
  /** When the reference named an index (multi-platform image): the index digest. */
  indexDigest?: Digest;
  config: ImageConfig;
  configDescriptor: Descriptor;
  /** The manifest's layers, base first, with media types normalized to OCI (digests unchanged). */
  layers: Descriptor[];
}

/** Progress of one blob transfer. `total` is the descriptor size. */
export interface BlobProgress {
  digest: Digest;
  bytes: number;
  total: number;
}
