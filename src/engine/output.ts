import type { LayerSpec, StackerFile } from '../core/index.js';
import { descriptorOf, type OciLayout } from '../oci/layout.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor, OciManifest } from '../oci/types.js';
import { manifestAnnotations } from './image-config.js';
import type { NodeResult } from './node-result.js';

export interface RetagOptions {
  store: OciLayout;
  output: OciLayout;
  layer: LayerSpec;
  file: StackerFile;
  result: NodeResult;
  namespace: string;
}

/**
 * Tags layers' images in the output layout, copying (hard-linking) any blob it lacks; returns
 * how many tags moved. Blobs go in concurrently, then one index.json update for every tag that
 * moves (one rewrite and fsync, not one per layer), so a crash leaves the previous tags in place.
 * If the stacker.yaml text changed elsewhere (a cache hit with a stale `stacker_yaml`
 * annotation, stacker's known wart), a fresh manifest is written: same config and layers.
 */
export async function retagOutputs(all: RetagOptions[]): Promise<number> {
  if (all.length === 0) return 0;
  const manifests = await Promise.all(all.map((o) => prepareTag(o)));
  const moved = new Map<string, Descriptor>();
  manifests.forEach((m, i) => {
    if (m !== undefined) moved.set(all[i]!.layer.name, m);
  });
  if (moved.size > 0) await all[0]!.output.setTags(moved);
  return moved.size;
}

/** The manifest to tag, with every blob it needs in the output layout; undefined when the tag is in place. */
async function prepareTag(o: RetagOptions): Promise<Descriptor | undefined> {
  let manifest = o.result.manifest;
  const want = manifestAnnotations({ inherited: undefined, layer: o.layer, namespace: o.namespace, stackerYaml: o.file.substitutedText });
  if (Object.entries(want).some(([k, v]) => o.result.annotations[k] !== v)) {
    const old = await o.store.readJson<OciManifest>(manifest.digest, manifest.size);
    const info = await o.store.writeJson({ ...old, annotations: { ...(old.annotations ?? {}), ...want } });
    manifest = descriptorOf(MediaType.ociManifest, info);
  }
  // Tagged already: its blobs went in before its tag did.
  if ((await o.output.resolveTag(o.layer.name))?.digest === manifest.digest) return undefined;
  for (const d of [...o.result.layers, o.result.config, manifest]) {
    if (!(await o.output.hasBlob(d.digest))) await o.output.importBlob(o.store.blobPath(d.digest), d.digest, d.size);
  }
  return manifest;
}
