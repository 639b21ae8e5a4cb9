import { mark } from '../core/trace.js';
import { lstatSync, readdirSync, rmSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { isDigest, type Digest } from '../core/index.js';
import { MAX_MANIFEST_BYTES, checkIndex, checkManifest, parseJsonBytes, sniffManifestKind } from './documents.js';
import { isImageManifestType, isIndexType } from './media-types.js';
import type { OciLayout } from './layout.js';
import type { Descriptor } from './types.js';

export interface GcResult {
  /** Digests of the blobs deleted. */
  removed: Digest[];
  /** Bytes freed by those deletions. */
  freedBytes: number;
}

/** Temp files younger than this may belong to a writer that is still running. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/**
 * The digests reachable from `index.json`: every descriptor in it, and recursively the children
 * of indexes and the config, layers and subject of manifests. Referenced blobs that are missing
 * are allowed (image-layout.md says a layout MAY lack them). A blob that is present but corrupt
 * makes this throw: deleting on the basis of a document we cannot trust would be wrong. Manifests
 * this process wrote or tagged (`noteManifest`) are not read again: their children are known.
 */
export async function reachableBlobs(layout: OciLayout): Promise<Set<Digest>> {
  const seen = new Set<Digest>();
  let queue: Descriptor[] = [...(await layout.readIndex()).manifests];
  // In waves (the documents of one level read at once): one round trip per level, not per document.
  while (queue.length > 0) {
    const wave = queue.filter((d) => !seen.has(d.digest) && (seen.add(d.digest), true));
    const children = await Promise.all(wave.map(async (d): Promise<Descriptor[]> => {
      const noted = layout.notedChildren(d.digest);
      if (noted !== undefined) return noted;
      const followable = isIndexType(d.mediaType) || isImageManifestType(d.mediaType);
      if (!followable || !(await layout.hasBlob(d.digest))) return [];
      const bytes = await layout.readBlob(d.digest, d.size, MAX_MANIFEST_BYTES);
      const where = `blob ${d.digest}`;
      const doc = parseJsonBytes(bytes, 'document', where);
      if (sniffManifestKind(doc, d.mediaType) === 'index') return checkIndex(doc, where).manifests;
      const m = checkManifest(doc, where);
      return [m.config, ...m.layers, ...(m.subject !== undefined ? [m.subject] : [])];
    }));
    queue = children.flat();
  }
  return seen;
}

export async function collectGarbage(layout: OciLayout, tmpDir: string): Promise<GcResult> {
  const keep = await reachableBlobs(layout);
  mark('gc: reached');
  const blobDir = join(layout.dir, 'blobs', 'sha256');
  const removed: Digest[] = [];
  let freedBytes = 0;
  // Synchronous: a few metadata calls each, cheaper than round trips through the threadpool.
  const unreached = listDir(blobDir).filter((name) => isDigest(`sha256:${name}`) && !keep.has(`sha256:${name}` as Digest));
  for (const name of unreached) {
    const p = join(blobDir, name);
    const st = lstatOrUndefined(p);
    if (st === undefined || !st.isFile()) continue;
    rmSync(p, { force: true });
    removed.push(`sha256:${name}` as Digest);
    freedBytes += st.size;
  }
  mark('gc: removed');
  const now = Date.now();
  for (const name of listDir(tmpDir)) {
    const p = join(tmpDir, name);
    const st = lstatOrUndefined(p);
    if (st !== undefined && now - st.mtimeMs > STALE_TEMP_MS) rmSync(p, { force: true, recursive: true });
  }
  return { removed: removed.sort(), freedBytes };
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}
