/**
 * unpackLayer: one layer blob -> a fresh directory that becomes an overlayfs lower dir, in one
 * streaming pass (file -> decompress -> sha256 diff_id -> tar reader -> extractor). Untrusted
 * input: containment is secure-path.ts, entry semantics extractor.ts, limits limits.ts.
 * On error the directory is left partly extracted; the caller discards it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline, type Readable } from 'node:stream';
import type { Digest } from '../../core/digest.js';
import { decompressorFor } from './decompress.js';
import { Extractor } from './extractor.js';
import { StackerError } from '../../core/errors.js';
import { LayerErrorCode, resolveLimits, tooLarge, type UnpackLimits } from './limits.js';
import { TarReader } from './tar-reader.js';

export interface UnpackOptions extends Partial<UnpackLimits> {
  /** A fresh, empty directory (it becomes the layer's lower dir). */
  destDir: string;
  mediaType: string;
  /** Non-fatal notes: skipped device nodes, xattrs that could not be set... */
  onWarning?: (msg: string) => void;
}

export interface UnpackResult {
  diffId: Digest;
  entries: number;
  uncompressedSize: number;
}

function openTarStream(blob: string, mediaType: string): Readable {
  const decompress = decompressorFor(mediaType); // throws before any file is opened
  const src = createReadStream(blob, { highWaterMark: 1 << 20 });
  if (!decompress) return src;
  return pipeline(src, decompress, () => {}) as unknown as Readable; // errors surface while iterating
}

/** zlib failures (`Z_DATA_ERROR`, `Z_BUF_ERROR`...) become STACKER_E_LAYER_CORRUPT. */
function asLayerError(e: unknown, mediaType: string): unknown {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new StackerError(LayerErrorCode.corrupt, `layer is not valid ${mediaType}: ${(e as Error).message}`, { cause: e });
  }
  return e;
}

export async function unpackLayer(blob: string, opts: UnpackOptions): Promise<UnpackResult> {
  const limits = resolveLimits(opts);
  const extractor = new Extractor(opts.destDir, opts.onWarning ?? (() => {}), limits.maxPathLength);
  const reader = new TarReader(extractor, limits);
  const hash = createHash('sha256');
  let total = 0;
  try {
    for await (const chunk of openTarStream(blob, opts.mediaType) as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > limits.maxUncompressedBytes) throw tooLarge(limits.maxUncompressedBytes);
      hash.update(chunk);
      if (!reader.finished) reader.push(chunk);
    }
    reader.end();
    extractor.finish();
  } catch (e) {
    throw asLayerError(e, opts.mediaType);
  } finally {
    extractor.abort();
  }
  return { diffId: `sha256:${hash.digest('hex')}` as Digest, entries: reader.entries, uncompressedSize: total };
}
