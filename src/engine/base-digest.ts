import { resolve } from 'node:path';
import type { LayerSpec } from '../core/index.js';
import { StackerError } from '../core/index.js';
import { parseImageRef } from '../oci/image-ref.js';
import { OciLayout } from '../oci/layout.js';

/**
 * The identity of a docker:// or oci: base for the cache key: its manifest (or index) digest.
 * A reference pinned by digest needs no request; a tag costs one HEAD to the registry, so a
 * moved tag rebuilds (stacker issue #15). oci: layouts are read locally.
 */
export async function resolveImageDigest(layer: LayerSpec, cwd: string): Promise<string> {
  return located(layer, () => resolveDigest(layer, cwd));
}

async function resolveDigest(layer: LayerSpec, cwd: string): Promise<string> {
  const url = layer.from.url ?? '';
  const layoutUrl = layer.from.type === 'oci' ? url : url.startsWith('oci:') ? url.slice(4) : undefined;
  if (layoutUrl !== undefined) {
    const i = layoutUrl.indexOf(':');
    if (i < 0) throw needsTag(layoutUrl, layer);
    const dir = resolve(cwd, layoutUrl.slice(0, i));
    const tag = layoutUrl.slice(i + 1);
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
  // The registry client loads only for a docker:// tag.
  const { headManifest } = await import('../oci/registry/index.js');
  const head = await headManifest(ref, { insecure: layer.from.insecure });
  if (head === undefined) {
    throw new StackerError('STACKER_E_BASE_MISSING', `${url}: manifest unknown`, { location: layer.from.location, hint: 'check the image name and tag' });
  }
  return head.digest;
}

export function needsTag(url: string, layer: LayerSpec): StackerError {
  return new StackerError('STACKER_E_BAD_BASE', `oci base "${url}" needs the form <layout-path>:<tag>`, {
    location: layer.from.location,
    hint: 'the layout path is relative to the current directory; the tag is everything after the first colon',
  });
}

/** Runs `fn`; a StackerError without a location gets the layer's `from:` location. */
export async function located<T>(layer: LayerSpec, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StackerError && e.location === undefined && layer.from.location !== undefined) {
      throw new StackerError(e.code, e.message, { location: layer.from.location, cause: e, exitCode: e.exitCode, ...(e.hint !== undefined ? { hint: e.hint } : {}) });
    }
    throw e;
  }
}
