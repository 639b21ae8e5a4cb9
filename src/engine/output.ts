import { sha256Digest, type Digest, type LayerSpec, type StackerFile } from '../core/index.js';
import { canonicalJsonBytes } from '../oci/canonical-json.js';
import { mark } from '../core/trace.js';
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
 * how many tags moved. Each tag's blobs go in as soon as it is started (one tag per turn of the
 * event loop, the writes overlapping), the blob directory is synced once, then one
 * index.json update for every tag that moves (one rewrite and fsync, not one per layer), so a
 * crash leaves the previous tags in place.
 * If the stacker.yaml text changed elsewhere (a cache hit with a stale `stacker_yaml`
 * annotation, stacker's known wart), the hit is tagged with a fresh manifest: same config and
 * layers. It is derived, so it goes into the output layout only (the store and the index keep
 * what the build made), and it is computed from the manifest the index keeps before anything is
 * written: a hit tagged with it already costs nothing but a hash of the manifest text.
 */
export async function retagOutputs(all: RetagOptions[]): Promise<number> {
  if (all.length === 0) return 0;
  // One read of the tags for all: index.json written less than 2 s ago is parsed on each read.
  const tagged = all[0]!.output.tagsNow();
  // And one listing of the blobs: tags of many layers check the same base layers' blobs.
  const present = all[0]!.output.blobsPresent();
  // Started one per turn of the event loop: a tag's own work (a fresh manifest to make, hash
  // and write) is short, but the hits' together would hold this thread while a run step needs it.
  const pending: Promise<Descriptor | undefined>[] = [];
  for (const [i, o] of all.entries()) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    pending.push(prepareTag(o, tagged.get(o.layer.name), present));
    pending[i]!.catch(() => {}); // awaited below
  }
  const manifests = await Promise.all(pending);
  mark(`retag: ${all.length} prepared`);
  const moved = new Map<string, Descriptor>();
  manifests.forEach((m, i) => {
    if (m !== undefined) moved.set(all[i]!.layer.name, m);
  });
  if (moved.size === 0) return 0;
  const output = all[0]!.output;
  output.syncBlobDir();
  mark('retag: blobs synced');
  await output.setTags(moved);
  return moved.size;
}

/**
 * The manifest to tag, with every blob it needs in the output layout (the blob directory not
 * yet synced); undefined when the tag (`current`) is in place.
 */
async function prepareTag(o: RetagOptions, current: Descriptor | undefined, present: Set<Digest>): Promise<Descriptor | undefined> {
  let manifest = o.result.manifest;
  let children = [o.result.config, ...o.result.layers];
  let bytes: Buffer | undefined;
  const want = manifestAnnotations({ inherited: undefined, layer: o.layer, namespace: o.namespace, stackerYaml: o.file.substitutedText });
  if (Object.entries(want).some(([k, v]) => !sameAnnotation(o.result, k, v))) {
    let fresh = keptManifest(o.result, want);
    if (fresh === undefined) {
      const old = await o.store.readJson<OciManifest>(manifest.digest, manifest.size);
      fresh = { ...old, annotations: { ...(old.annotations ?? {}), ...want } };
    }
    bytes = canonicalJsonBytes(fresh);
    children = [fresh.config, ...fresh.layers, ...(fresh.subject !== undefined ? [fresh.subject] : [])];
    manifest = descriptorOf(MediaType.ociManifest, { digest: sha256Digest(bytes), size: bytes.length });
  }
  // What gc would otherwise read back.
  o.output.noteManifest(manifest.digest, children);
  // Tagged already: its blobs went in before its tag did.
  if (current?.digest === manifest.digest) return undefined;
  for (const d of [...o.result.layers, o.result.config, manifest]) {
    if (present.has(d.digest)) continue;
    if (d === manifest && bytes !== undefined) await o.output.writeBlob(bytes, { deferDirSync: true });
    // Store blobs may be hard links of a user's base layout files: verified as they go in,
    // unless this process just made them.
    else await o.output.importBlob(o.store.blobPath(d.digest), d.digest, d.size, { deferDirSync: true, trusted: o.result.made?.includes(d.digest) === true });
    present.add(d.digest);
  }
  return manifest;
}

/** Digests of long annotation values (a file's text: the same string for each of its layers). */
const textDigests = new Map<string, Digest>();

function sameAnnotation(r: NodeResult, key: string, value: string): boolean {
  const d = r.annotationDigests?.[key];
  if (d === undefined) return r.annotations[key] === value;
  let v = textDigests.get(value);
  if (v === undefined) textDigests.set(value, (v = sha256Digest(value)));
  return v === d;
}

/**
 * The fresh manifest from the record's copy of its manifest: when that copy describes the same
 * config and layers, and every annotation the record has as a digest only is one `want` replaces.
 */
function keptManifest(r: NodeResult, want: Record<string, string>): OciManifest | undefined {
  const m = r.manifestDoc;
  if (m === undefined || m.config?.digest !== r.config.digest || m.layers?.length !== r.layers.length) return undefined;
  if (!m.layers.every((l, i) => l.digest === r.layers[i]!.digest)) return undefined;
  if (Object.keys(r.annotationDigests ?? {}).some((k) => !(k in want))) return undefined;
  return { ...m, annotations: { ...r.annotations, ...want } };
}
