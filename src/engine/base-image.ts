import { resolve } from 'node:path';
import type { Digest, LayerSpec } from '../core/index.js';
import { StackerError } from '../core/index.js';
import type { Descriptor, ImageConfig, OciManifest } from '../oci/types.js';
import { headManifest, pullImage } from '../oci/registry/index.js';
import { pullFromLayout } from '../oci/layout-source.js';
import { OciLayout } from '../oci/layout.js';
import { parseImageRef } from '../oci/image-ref.js';
import type { NodeResult } from './node-result.js';

/** The image a layer starts from: config, layers (blobs in the store) and their diff_ids. */
export interface BaseImage {
  config: ImageConfig | undefined;
  layers: Descriptor[];
  diffIds: Digest[];
  annotations: Record<string, string> | undefined;
}

export const EMPTY_BASE: BaseImage = { config: undefined, layers: [], diffIds: [], annotations: undefined };

export async function loadBaseImage(opts: {
  layer: LayerSpec;
  store: OciLayout;
  cwd: string;
  resultOf: (name: string) => NodeResult;
  onProgress?: (digest: string, bytes: number, total: number) => void;
}): Promise<BaseImage> {
  const { layer, store } = opts;
  switch (layer.from.type) {
    case 'scratch':
    case 'tar':
      return EMPTY_BASE;
    case 'built': {
      const parent = opts.resultOf(layer.from.tag!);
      const config = await store.readJson<ImageConfig>(parent.config.digest, parent.config.size);
      return { config, layers: parent.layers, diffIds: parent.diffIds, annotations: parent.annotations };
    }
    case 'docker': {
      const url = layer.from.url ?? '';
      if (url.startsWith('oci:')) return fromLayout(url.slice(4), opts);
      const ref = parseImageRef(url);
      if (ref.transport !== 'docker') return fromLayout(url.slice(4), opts);
      const img = await pullImage(ref, store, { os: layer.os, arch: layer.arch, insecure: layer.from.insecure, ...(opts.onProgress ? { onProgress: (p: { digest: string; bytes: number; total: number }) => opts.onProgress!(p.digest, p.bytes, p.total) } : {}) });
      return fromPulled(img.manifest, img.config, img.layers);
    }
    case 'oci':
      return fromLayout(layer.from.url ?? '', opts);
  }
}

async function fromLayout(url: string, opts: { layer: LayerSpec; store: OciLayout; cwd: string }): Promise<BaseImage> {
  const i = url.indexOf(':');
  if (i < 0) {
    throw new StackerError('STACKER_E_BAD_BASE', `oci base "${url}" needs the form <layout-path>:<tag>`, { location: opts.layer.from.location });
  }
  const dir = resolve(opts.cwd, url.slice(0, i));
  const img = await pullFromLayout(dir, url.slice(i + 1), opts.store, { os: opts.layer.os, arch: opts.layer.arch });
  return fromPulled(img.manifest, img.config, img.layers);
}

function fromPulled(manifest: OciManifest, config: ImageConfig, layers: Descriptor[]): BaseImage {
  return { config, layers, diffIds: config.rootfs.diff_ids, annotations: manifest.annotations };
}

/**
 * The identity of a docker:// or oci: base for the cache key: its manifest (or index) digest.
 * A reference pinned by digest needs no request; a tag costs one HEAD to the registry, so a
 * moved tag rebuilds (stacker issue #15). oci: layouts are read locally.
 */
export async function resolveImageDigest(layer: LayerSpec, cwd: string): Promise<string> {
  const url = layer.from.url ?? '';
  const layoutUrl = layer.from.type === 'oci' ? url : url.startsWith('oci:') ? url.slice(4) : undefined;
  if (layoutUrl !== undefined) {
    const i = layoutUrl.indexOf(':');
    const dir = resolve(cwd, i < 0 ? layoutUrl : layoutUrl.slice(0, i));
    const tag = i < 0 ? 'latest' : layoutUrl.slice(i + 1);
    const layout = await OciLayout.open(dir, { create: false, paramName: 'from.url' });
    const desc = await layout.resolveTag(tag);
    if (desc === undefined) {
      throw new StackerError('STACKER_E_BASE_MISSING', `no tag ${tag} in the OCI layout ${dir}`, { location: layer.from.location, hint: 'oci base URLs are <layout-path>:<tag>, the path relative to the current directory' });
    }
    return desc.digest;
  }
  const ref = parseImageRef(url);
  if (ref.transport !== 'docker') throw new StackerError('STACKER_E_BAD_BASE', `unsupported base ${url}`, { location: layer.from.location });
  if (ref.digest !== undefined) return ref.digest;
  const head = await headManifest(ref, { insecure: layer.from.insecure });
  if (head === undefined) {
    throw new StackerError('STACKER_E_BASE_MISSING', `${url}: manifest unknown`, { location: layer.from.location, hint: 'check the image name and tag' });
  }
  return head.digest;
}
