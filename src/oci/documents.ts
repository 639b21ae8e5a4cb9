import { StackerError, isDigest } from '../core/index.js';
import { isIndexType, isSchema1Type } from './media-types.js';
import type { Descriptor, ImageConfig, OciIndex, OciManifest } from './types.js';

/**
 * Parsing of untrusted manifests, indexes and configs. Every digest is checked to be a well-formed
 * `sha256:<hex>` before it is used (digests become file names in a layout, so a malformed one must
 * never reach `path.join`), and every size to be a safe non-negative integer.
 */

/** Registries must accept manifests up to 4 MiB; we refuse to read bigger ones. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Image configs are small in practice; cap them against hostile sources. */
export const MAX_CONFIG_BYTES = 32 * 1024 * 1024;

function bad(what: string, where: string, detail: string): StackerError {
  return new StackerError('STACKER_E_BAD_MANIFEST', `invalid ${what} from ${where}: ${detail}`);
}

export function parseJsonBytes(bytes: Uint8Array | string, what: string, where: string): unknown {
  try {
    return JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw bad(what, where, `not JSON (${(e as Error).message})`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function checkDescriptor(v: unknown, what: string, where: string): Descriptor {
  if (!isObject(v)) throw bad(what, where, 'descriptor is not an object');
  if (typeof v.mediaType !== 'string') throw bad(what, where, 'descriptor without mediaType');
  if (typeof v.digest !== 'string' || !isDigest(v.digest)) {
    throw bad(what, where, `unsupported or malformed digest ${JSON.stringify(v.digest)} (only sha256 is supported)`);
  }
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw bad(what, where, `descriptor ${v.digest} has an invalid size ${JSON.stringify(v.size)}`);
  }
  return v as unknown as Descriptor;
}

/** What kind of document some manifest bytes are, from the media type given or their content. */
export function sniffManifestKind(doc: unknown, mediaType?: string): 'index' | 'manifest' {
  const mt = (isObject(doc) && typeof doc.mediaType === 'string' ? doc.mediaType : undefined) ?? mediaType;
  if (isSchema1Type(mt) || (isObject(doc) && doc.schemaVersion === 1)) {
    throw new StackerError('STACKER_E_UNSUPPORTED_MANIFEST', 'Docker schema 1 manifests are not supported', {
      hint: 'push the image again with a current client (it will be converted to schema 2)',
    });
  }
  if (isIndexType(mt)) return 'index';
  if (isObject(doc) && Array.isArray(doc.manifests) && !('config' in doc)) return 'index';
  return 'manifest';
}

export function checkManifest(doc: unknown, where: string): OciManifest {
  if (!isObject(doc)) throw bad('manifest', where, 'not an object');
  if (doc.schemaVersion !== 2) throw bad('manifest', where, `schemaVersion ${String(doc.schemaVersion)}`);
  checkDescriptor(doc.config, 'manifest', where);
  if (!Array.isArray(doc.layers)) throw bad('manifest', where, 'no layers array');
  for (const l of doc.layers) checkDescriptor(l, 'manifest', where);
  return doc as unknown as OciManifest;
}

export function checkIndex(doc: unknown, where: string): OciIndex {
  if (!isObject(doc)) throw bad('index', where, 'not an object');
  if (doc.schemaVersion !== 2) throw bad('index', where, `schemaVersion ${String(doc.schemaVersion)}`);
  if (!Array.isArray(doc.manifests)) throw bad('index', where, 'no manifests array');
  for (const m of doc.manifests) checkDescriptor(m, 'index', where);
  return doc as unknown as OciIndex;
}

export function checkImageConfig(doc: unknown, where: string): ImageConfig {
  if (!isObject(doc)) throw bad('image config', where, 'not an object');
  const rootfs = doc.rootfs;
  if (!isObject(rootfs) || !Array.isArray(rootfs.diff_ids)) throw bad('image config', where, 'no rootfs.diff_ids');
  for (const d of rootfs.diff_ids) {
    if (typeof d !== 'string' || !isDigest(d)) throw bad('image config', where, `malformed diff_id ${JSON.stringify(d)}`);
  }
  if (doc.config !== undefined && doc.config !== null && !isObject(doc.config)) {
    throw bad('image config', where, '"config" is not an object');
  }
  return doc as unknown as ImageConfig;
}
