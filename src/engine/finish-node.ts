import { rmSync } from 'node:fs';
import { mark } from '../core/trace.js';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Digest, LayerSpec, StackerFile } from '../core/index.js';
import { canonicalJsonBytes } from '../oci/canonical-json.js';
import { descriptorOf } from '../oci/layout.js';
import { MediaType } from '../oci/media-types.js';
import { packLayer, type PackOptions } from '../oci/layer/index.js';
import type { IdMap } from '../runtime/index.js';
import { packOutside, publishLayer } from './outside.js';

/** A layer whose run step ran in namespaces of its own (engine/outside.ts): its mount stubs, lower dirs and id map. */
export interface OutsideRun { stubs: string[]; lowers: string[]; ids: IdMap }
import type { BaseImage } from './base-image.js';
import type { NodeBuildContext } from './build-node.js';
import { generateLabels } from './generate-labels.js';
import { buildImageConfig, buildManifest, manifestAnnotations } from './image-config.js';
import type { NodeResult } from './node-result.js';

/**
 * After `run`: packs the upper dir into a layer blob (none for an empty diff), publishes the
 * upper dir as that layer's extracted form, runs generate_labels, and writes the image config
 * and manifest into the store.
 */
export async function finishNode(ctx: NodeBuildContext, layer: LayerSpec, file: StackerFile, base: BaseImage, upper: string, outside?: OutsideRun): Promise<NodeResult> {
  const started = Date.now();
  ctx.events.emit({ type: 'node-step', layer: layer.name, step: 'pack' });
  // In the roots dir, so a build killed while packing leaves nothing that outlives the next build.
  const tmpDir = ctx.overlay.tempDir('pack');
  const tmpBlob = join(tmpDir, 'blob');
  const packOptions: PackOptions = {
    outFile: tmpBlob,
    ...(ctx.sourceDateEpoch !== undefined ? { sourceDateEpoch: ctx.sourceDateEpoch } : {}),
    onProgress: (bytes) => ctx.events.emit({ type: 'pack-progress', layer: layer.name, bytes }),
  };
  const packed = outside !== undefined
    ? await packOutside(upper, outside.stubs, outside.lowers, outside.ids, packOptions, ctx.signal)
    : await packLayer(upper, packOptions);
  mark('packed');
  ctx.events.emit({ type: 'node-step', layer: layer.name, step: 'commit' });
  const layers = [...base.layers];
  const newDiffIds: Digest[] = [];
  const made: Digest[] = [];
  // The store's blob directory is synced once, below, before anything refers to these blobs.
  if (packed !== null) {
    // Ours unless the store had it (a blob there may be a hard link of a user's base layout file).
    if (!(await ctx.store.hasBlob(packed.digest, packed.size))) made.push(packed.digest);
    await ctx.store.importBlob(tmpBlob, packed.digest, packed.size, { trusted: true, deferDirSync: true });
    if (outside !== undefined) await publishLayer(ctx.overlay, upper, packed.diffId);
    else ctx.overlay.publishLayer(upper, packed.diffId);
    layers.push({ mediaType: packed.mediaType, digest: packed.digest, size: packed.size });
    newDiffIds.push(packed.diffId);
    ctx.events.emit({ type: 'layer-written', layer: layer.name, digest: packed.digest, diffId: packed.diffId, size: packed.size, seconds: (Date.now() - started) / 1000 });
  }
  rmSync(tmpDir, { recursive: true, force: true });
  mark('layer stored');
  const generated = layer.generateLabels.length > 0
    ? await generateLabels({
      layer, overlay: ctx.overlay, events: ctx.events, signal: ctx.signal,
      lowers: [...base.diffIds, ...newDiffIds].reverse().map((d) => ctx.overlay.layerDirRel(d)).concat(ctx.overlay.emptyDirRel()),
    })
    : {};
  const sde = ctx.sourceDateEpoch;
  const config = buildImageConfig({
    layer: { ...layer, labels: { ...generated, ...layer.labels } },
    base: base.config,
    newDiffIds,
    created: sde !== undefined ? new Date(sde * 1000) : new Date(),
    author: sde !== undefined ? 'stacker' : `${userInfo().username}@${hostname()}`,
  });
  // Two small documents, written on this thread (the build waits for them), synced with one directory fsync.
  const configBytes = canonicalJsonBytes(config);
  const configInfo = await ctx.store.writeBlob(configBytes, { deferDirSync: true, sync: true });
  const configDesc = descriptorOf(MediaType.ociConfig, configInfo);
  const annotations = manifestAnnotations({ inherited: base.annotations, layer, namespace: ctx.annotationsNamespace, stackerYaml: file.substitutedText });
  const manifestDoc = buildManifest(configDesc, layers, {});
  const manifestInfo = await ctx.store.writeJson(buildManifest(configDesc, layers, annotations), { deferDirSync: true, sync: true });
  ctx.store.syncBlobDir();
  mark('documents stored');
  return {
    manifest: descriptorOf(MediaType.ociManifest, manifestInfo),
    config: configDesc,
    layers,
    diffIds: [...base.diffIds, ...newDiffIds],
    annotations,
    manifestDoc,
    made: [...made, configInfo.digest, manifestInfo.digest],
  };
}
