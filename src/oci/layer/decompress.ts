/**
 * Layer media type -> decompressor. gzip covers multi-member streams (Node's gunzip reads every
 * member). zstd needs Node >= 22.15 (`zlib.createZstdDecompress`); on older Node it is a clear
 * error rather than a silent failure.
 */
import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { StackerError } from '../../core/errors.js';
import { LayerErrorCode } from './limits.js';

const TAR = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
]);
const GZIP = new Set([
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);
const ZSTD = new Set([
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

export type Compression = 'none' | 'gzip' | 'zstd';

export function compressionOf(mediaType: string): Compression {
  if (TAR.has(mediaType)) return 'none';
  if (GZIP.has(mediaType)) return 'gzip';
  if (ZSTD.has(mediaType)) return 'zstd';
  throw new StackerError(LayerErrorCode.mediaType, `unsupported layer media type ${JSON.stringify(mediaType)}`, {
    hint: 'layers must be tar, tar+gzip or tar+zstd (OCI) or rootfs.diff.tar.gzip (Docker)',
  });
}

/** A decompressing stream for the media type, or undefined for a plain tar. */
export function decompressorFor(mediaType: string): Transform | undefined {
  const c = compressionOf(mediaType);
  if (c === 'none') return undefined;
  if (c === 'gzip') return zlib.createGunzip({ chunkSize: 256 * 1024 });
  const make = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
  if (!make) {
    throw new StackerError(LayerErrorCode.unsupported, `zstd layers need Node >= 22.15 (this is ${process.version})`, {
      hint: 'run stacker on a newer Node, or convert the image: skopeo copy --dest-compress-format gzip ...',
    });
  }
  return make();
}
