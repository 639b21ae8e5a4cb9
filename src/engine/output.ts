import type { LayerSpec, StackerFile } from '../core/index.js';
import { descriptorOf, type OciLayout } from '../oci/layout.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor, OciManifest } from '../oci/types.js';
import { manifestAnnotations } from './image-config.js';
import type { NodeResult } from './node-result.js';

/**
 * Tags a layer's image in the output layout (true if the tag moved), copying (hard-linking) any blob it lacks.
 * If the stacker.yaml text changed elsewhere (a cache hit with a stale `stacker_yaml`
 * annotation, stacker's known wart), a fresh manifest is written: same config and layers.
 * Blobs first, index.json last, so a crash leaves the previous tag in place.
 */
export async function retagOutput(o: RetagOptions): Promise<boolean> {
  const manifest = await prepareTag(o);
  const cur = await o.output.resolveTag(o.layer.name);
  if (cur?.digest === manifest.digest) return false;
  await o.output.setTag(o.layer.name, manifest);
  return true;
}

export interface RetagOptions {
  store: OciLayout;
  output: OciLayout;
  layer: LayerSpec;
  file: StackerFile;
  result: NodeResult;
  namespace: string;
}

/**
 * Tags many layers at once (the cache hits of a build): their blobs concurrently, then one
 * index.json update for every tag that moves (one rewrite and fsync, not one per layer).
 */
export async function retagOutputs(all: RetagOptions[]): Promise<number> {
  if (all.length === 0) return 0;
  const output = all[0]!.output;
  const manifests = await Promise.all(all.map((o) => prepareTag(o)));
  const moved = new Map<string, Descriptor>();
  for (let i = 0; i < all.length; i++) {
    const name = all[i]!.layer.name;
    if ((await output.resolveTag(name))?.digest !== manifests[i]!.digest) moved.set(name, manifests[i]!);
  }
  if (moved.size > 0) await output.setTags(moved);
  return moved.size;
}

/** The manifest to tag, with every blob it needs in the output layout. */
async function prepareTag(o: RetagOptions): Promise<Descriptor> {
  let manifest = o.result.manifest;
  const want = manifestAnnotations({ inherited: undefined, layer: o.layer, namespace: o.namespace, stackerYaml: o.file.substitutedText });
  const stale = Object.entries(want).some(([k, v]) => o.result.annotations[k] !== v);
  if (stale) {
    const old = await o.store.readJson<OciManifest>(manifest.digest, manifest.size);
    const info = await o.store.writeJson({ ...old, annotations: { ...(old.annotations ?? {}), ...want } });
    manifest = descriptorOf(MediaType.ociManifest, info);
  } else if ((await o.output.resolveTag(o.layer.name))?.digest === manifest.digest) {
    return manifest; // tagged already: its blobs went in before its tag did
  }
  for (const d of [...o.result.layers, o.result.config, manifest]) {
    if (!(await o.output.hasBlob(d.digest))) await o.output.importBlob(o.store.blobPath(d.digest), d.digest, d.size);
  }
  return manifest;
}
