import type { LayerSpec, StackerFile } from '../core/index.js';
import { descriptorOf, type OciLayout } from '../oci/layout.js';
import { MediaType } from '../oci/media-types.js';
import type { OciManifest } from '../oci/types.js';
import { manifestAnnotations } from './image-config.js';
import type { NodeResult } from './node-result.js';

/**
 * Tags a layer's image in the output layout, copying (hard-linking) any blob it lacks.
 * If the stacker.yaml text changed elsewhere (a cache hit with a stale `stacker_yaml`
 * annotation, stacker's known wart), a fresh manifest is written: same config and layers.
 * Blobs first, index.json last, so a crash leaves the previous tag in place.
 */
export async function retagOutput(o: {
  store: OciLayout;
  output: OciLayout;
  layer: LayerSpec;
  file: StackerFile;
  result: NodeResult;
  namespace: string;
}): Promise<void> {
  let manifest = o.result.manifest;
  const want = manifestAnnotations({ inherited: undefined, layer: o.layer, namespace: o.namespace, stackerYaml: o.file.substitutedText });
  const stale = Object.entries(want).some(([k, v]) => o.result.annotations[k] !== v);
  if (stale) {
    const old = await o.store.readJson<OciManifest>(manifest.digest, manifest.size);
    const info = await o.store.writeJson({ ...old, annotations: { ...(old.annotations ?? {}), ...want } });
    manifest = descriptorOf(MediaType.ociManifest, info);
  }
  for (const d of [...o.result.layers, o.result.config, manifest]) {
    if (!(await o.output.hasBlob(d.digest))) await o.output.importBlob(o.store.blobPath(d.digest), d.digest, d.size);
  }
  const cur = await o.output.resolveTag(o.layer.name);
  if (cur?.digest !== manifest.digest) await o.output.setTag(o.layer.name, manifest);
}
