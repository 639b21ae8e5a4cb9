/**
 * The OCI layer tar codec: overlay upper dir -> `tar+gzip` layer (packLayer) and layer blob ->
 * overlay lower dir (unpackLayer), plus the native xattr/mknod helpers they rely on.
 */
export { packLayer, packRecipe, LAYER_TAR_GZIP, DEFAULT_CHUNK_SIZE, DEFAULT_LEVEL } from './pack.js';
export { NEEDS_NAMESPACE } from './pack.js';
export type { PackOptions, PackResult } from './pack.js';
export { unpackLayer } from './unpack.js';
export type { UnpackOptions, UnpackResult } from './unpack.js';
export { DEFAULT_LIMITS, LayerErrorCode } from './limits.js';
export type { UnpackLimits } from './limits.js';
export { compressionOf } from './decompress.js';
export type { Compression } from './decompress.js';
export { native } from './native.js';
export type { StackerNative, NativeError } from './native.js';
