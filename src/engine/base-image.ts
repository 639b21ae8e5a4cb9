import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Digest, LayerSpec } from '../core/index.js';
import { StackerError, isDigest } from '../core/index.js';
import type { Descriptor, ImageConfig, OciManifest } from '../oci/types.js';
import { pullImage } from '../oci/registry/index.js';
import { pullFromLayout } from '../oci/layout-source.js';
import type { OciLayout } from '../oci/layout.js';
import { parseImageRef } from '../oci/image-ref.js';
import { unpackLayer } from '../oci/layer/index.js';
import { fullAnnotations } from './node-result.js';
import type { NodeResult } from './node-result.js';
import { located, needsTag } from './base-digest.js';
import { fetchUrl } from './fetch-url.js';
import type { GrabFn } from './imports.js';

/** The image a layer starts from: config, layers (blobs in the store) and their diff_ids. */
export interface BaseImage {
  config: ImageConfig | undefined;
  layers: Descriptor[];
  diffIds: Digest[];
  annotations: Record<string, string> | undefined;
}

export interface LoadBaseOptions {
  layer: LayerSpec;
  store: OciLayout;
  cwd: string;
  resultOf: (name: string) => NodeResult;
  onProgress?: (digest: string, bytes: number, total: number) => void;
  /**
   * The manifest digest the planner put in the layer's key: a docker:// base is pulled by it,
   * so a tag that moves between planning and building cannot give an image its key does not
   * describe.
   */
  plannedDigest?: string;
}

/** Planning's part (a base's digest for keys) is in base-digest.ts, which loads no layer codec. */
export { resolveImageDigest } from './base-digest.js';

export const EMPTY_BASE: BaseImage = { config: undefined, layers: [], diffIds: [], annotations: undefined };

export async function loadBaseImage(opts: LoadBaseOptions): Promise<BaseImage> {
  const { layer } = opts;
  return located(layer, () => loadBase(opts));
}

async function loadBase(opts: LoadBaseOptions): Promise<BaseImage> {
  const { layer, store } = opts;
  switch (layer.from.type) {
    case 'scratch':
    case 'tar':
      return EMPTY_BASE;
    case 'built': {
      const parent = opts.resultOf(layer.from.tag!);
      const config = await store.readJson<ImageConfig>(parent.config.digest, parent.config.size);
      return { config, layers: parent.layers, diffIds: parent.diffIds, annotations: await fullAnnotations(store, parent) };
    }
    case 'docker': {
      const url = layer.from.url ?? '';
      if (url.startsWith('oci:')) return fromLayout(url.slice(4), opts);
      const parsed = parseImageRef(url);
      if (parsed.transport !== 'docker') return fromLayout(url.slice(4), opts);
      const ref = opts.plannedDigest !== undefined && isDigest(opts.plannedDigest) ? { ...parsed, digest: opts.plannedDigest } : parsed;
      const img = await pullImage(ref, store, { os: layer.os, arch: layer.arch, insecure: layer.from.insecure, ...(opts.onProgress ? { onProgress: (p: { digest: string; bytes: number; total: number }) => opts.onProgress!(p.digest, p.bytes, p.total) } : {}) });
      return fromPulled(img.manifest, img.config, img.layers);
    }
    case 'oci':
      return fromLayout(layer.from.url ?? '', opts);
  }
}

async function fromLayout(url: string, opts: { layer: LayerSpec; store: OciLayout; cwd: string }): Promise<BaseImage> {
  const i = url.indexOf(':');
  if (i < 0) throw needsTag(url, opts.layer);
  const dir = resolve(opts.cwd, url.slice(0, i));
  const img = await pullFromLayout(dir, url.slice(i + 1), opts.store, { os: opts.layer.os, arch: opts.layer.arch });
  return fromPulled(img.manifest, img.config, img.layers);
}

function fromPulled(manifest: OciManifest, config: ImageConfig, layers: Descriptor[]): BaseImage {
  return { config, layers, diffIds: config.rootfs.diff_ids, annotations: manifest.annotations };
}

/**
 * Puts a `tar` base's contents into `upper` (the whole tarball becomes the layer's diff, on an
 * empty base, as in stacker). The tar is a local path (relative to `cwd`, as stacker resolves
 * `from.url`), an http(s) URL (downloaded once per plan into `downloadsDir`) or
 * `stacker://<layer>/<path>`; plain, gzip or zstd, recognized by its first bytes.
 */
export async function unpackTarBase(opts: {
  layer: LayerSpec;
  cwd: string;
  downloadsDir: string;
  grab: GrabFn;
  upper: string;
  onWarning: (message: string) => void;
}): Promise<void> {
  const { layer } = opts;
  const url = layer.from.url ?? '';
  let tmpDir: string | undefined;
  try {
    let file: string;
    if (/^https?:\/\//i.test(url)) {
      file = (await fetchUrl(opts.downloadsDir, url, undefined, { revalidate: false, location: layer.from.location })).file;
    } else if (url.startsWith('stacker://')) {
      const rest = url.slice('stacker://'.length);
      const slash = rest.indexOf('/');
      const src = slash < 0 ? rest : rest.slice(0, slash);
      const path = slash < 0 ? '/' : rest.slice(slash);
      mkdirSync(opts.downloadsDir, { recursive: true });
      tmpDir = mkdtempSync(join(opts.downloadsDir, 'grab-'));
      file = join(tmpDir, basename(path) || 'base.tar');
      const out = file;
      await opts.grab(src, path, (p) => {
        if (!existsSync(p) || !statSync(p).isFile()) {
          throw new StackerError('STACKER_E_BASE_MISSING', `tar base ${url}: no file ${path} in layer ${src}`, { location: layer.from.location });
        }
        copyFileSync(p, out);
      });
    } else {
      file = resolve(opts.cwd, url);
      if (!existsSync(file) || !statSync(file).isFile()) {
        throw new StackerError('STACKER_E_BASE_MISSING', `tar base ${url} not found (${file})`, {
          location: layer.from.location,
          hint: 'a local tar path is resolved against the current directory, not the stacker.yaml\'s folder',
        });
      }
    }
    await unpackLayer(file, { destDir: opts.upper, mediaType: tarMediaType(file, url, layer), onWarning: opts.onWarning });
  } finally {
    if (tmpDir !== undefined) rmSync(tmpDir, { recursive: true, force: true });
  }
}

/** The layer media type matching a tarball's compression, from its magic bytes. */
export function tarMediaType(file: string, url: string, layer: LayerSpec): string {
  const head = Buffer.alloc(6);
  const fd = openSync(file, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const b = head.subarray(0, n);
  if (b[0] === 0x1f && b[1] === 0x8b) return 'application/vnd.oci.image.layer.v1.tar+gzip';
  if (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'application/vnd.oci.image.layer.v1.tar+zstd';
  const other = b.subarray(0, 3).toString('latin1') === 'BZh' ? 'bzip2' : b.toString('latin1') === '\xfd7zXZ\x00' ? 'xz' : undefined;
  if (other !== undefined) {
    throw new StackerError('STACKER_E_BAD_BASE', `tar base ${url} is ${other}-compressed`, {
      location: layer.from.location,
      hint: 'tar bases may be plain, gzip or zstd tarballs',
    });
  }
  return 'application/vnd.oci.image.layer.v1.tar';
}
