import type { Digest } from '../core/index.js';
import type { OciLayout } from '../oci/layout.js';
import type { Descriptor, OciManifest } from '../oci/types.js';

/**
 * What building a layer produced: blobs in the store (`.stacker/store`) and the rootfs chain.
 * Stored in the index under the layer's key. The rootfs of the layer is the overlay of the
 * extracted forms of `diffIds` (bottom first); nothing else is needed to rebuild on top of it.
 */
export interface NodeResult {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  diffIds: Digest[];
  /**
   * Manifest annotations, kept so a hit can be re-annotated without reading blobs. From the
   * index, values longer than LONG_ANNOTATION (the stacker_yaml text) are in `annotationDigests`
   * only: each record held the whole file's text, read and parsed for every hit of every no-op.
   */
  annotations: Record<string, string>;
  /** sha256 of the annotation values the index keeps as a digest only (absent from `annotations`). */
  annotationDigests?: Record<string, Digest>;
  /**
   * The manifest as written, without its annotations (they are above), kept so a hit whose
   * stacker_yaml annotation is stale gets its fresh manifest without reading the blob. Absent in
   * records made before it was kept.
   */
  manifestDoc?: Omit<OciManifest, 'annotations'>;
  /**
   * Blobs this process wrote into the store and digested itself (for a layer built now, not one
   * from the index): they go into the output layout by link without being read again.
   */
  made?: Digest[];
}

/** Annotation values longer than this are kept in the index as a digest only. */
export const LONG_ANNOTATION = 256;

/** The result's manifest annotations, whole: read from its manifest when the index kept digests only. */
export async function fullAnnotations(store: OciLayout, r: NodeResult): Promise<Record<string, string>> {
  if (r.annotationDigests === undefined || Object.keys(r.annotationDigests).length === 0) return r.annotations;
  return (await store.readJson<OciManifest>(r.manifest.digest, r.manifest.size)).annotations ?? {};
}
