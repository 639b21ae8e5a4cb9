import type { Digest } from '../core/index.js';
import type { Descriptor } from '../oci/types.js';

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
  /** Manifest annotations, kept so a hit can re-annotate without reading blobs. */
  annotations: Record<string, string>;
  /**
   * Blobs this process wrote into the store and digested itself (for a layer built now, not one
   * from the index): they go into the output layout by link without being read again.
   */
  made?: Digest[];
}
