/**
 * Resource limits for untrusted layers (decompression bombs, entry floods, absurd paths) and the
 * error codes they raise. umoci documents gzip bombs as unmitigated; we refuse them (PEERS §3.4).
 */
import { StackerError } from '../../core/errors.js';

export interface UnpackLimits {
  /** Decompressed tar bytes, default 64 GiB. */
  maxUncompressedBytes: number;
  /** Tar entries (PAX/long-name meta headers not counted), default 10 million. */
  maxEntries: number;
  /** Bytes of an entry name or link target, default 4096 (PATH_MAX). */
  maxPathLength: number;
  /** Bytes of one PAX or GNU long-name record block, default 1 MiB. */
  maxMetaBytes: number;
}

export const DEFAULT_LIMITS: UnpackLimits = {
  maxUncompressedBytes: 64 * 1024 ** 3,
  maxEntries: 10_000_000,
  maxPathLength: 4096,
  maxMetaBytes: 1 << 20,
};

/** Error codes of the layer codec (stable; tests and the CLI match on them). */
export const LayerErrorCode = {
  tooLarge: 'STACKER_E_LAYER_TOO_LARGE',
  tooManyEntries: 'STACKER_E_LAYER_TOO_MANY_ENTRIES',
  pathTooLong: 'STACKER_E_LAYER_PATH_TOO_LONG',
  corrupt: 'STACKER_E_LAYER_CORRUPT',
  unsupported: 'STACKER_E_LAYER_UNSUPPORTED',
  mediaType: 'STACKER_E_LAYER_MEDIA_TYPE',
  unsafe: 'STACKER_E_LAYER_UNSAFE',
  invalidWhiteout: 'STACKER_E_LAYER_INVALID_WHITEOUT',
  hardlink: 'STACKER_E_LAYER_HARDLINK',
  owner: 'STACKER_E_LAYER_OWNER',
  xattr: 'STACKER_E_LAYER_XATTR',
  changed: 'STACKER_E_LAYER_CHANGED',
  conflict: 'STACKER_E_LAYER_CONFLICT',
} as const;

const BOMB_HINT = 'the layer may be a decompression bomb; raise the limit only for a layer you trust';

export function tooLarge(limit: number): StackerError {
  return new StackerError(LayerErrorCode.tooLarge, `layer expands to more than ${limit} bytes`, { hint: BOMB_HINT });
}

export function tooManyEntries(limit: number): StackerError {
  return new StackerError(LayerErrorCode.tooManyEntries, `layer has more than ${limit} entries`, { hint: BOMB_HINT });
}

export function pathTooLong(what: string, len: number, limit: number): StackerError {
  return new StackerError(LayerErrorCode.pathTooLong, `layer entry ${what} is ${len} bytes long (limit ${limit})`);
}

export function corrupt(msg: string): StackerError {
  return new StackerError(LayerErrorCode.corrupt, `corrupt layer tar: ${msg}`);
}

export function resolveLimits(opts: Partial<UnpackLimits>): UnpackLimits {
  return {
    maxUncompressedBytes: opts.maxUncompressedBytes ?? DEFAULT_LIMITS.maxUncompressedBytes,
    maxEntries: opts.maxEntries ?? DEFAULT_LIMITS.maxEntries,
    maxPathLength: opts.maxPathLength ?? DEFAULT_LIMITS.maxPathLength,
    maxMetaBytes: opts.maxMetaBytes ?? DEFAULT_LIMITS.maxMetaBytes,
  };
}
