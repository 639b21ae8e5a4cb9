/**
 * What, besides the input tree, determines a packed layer's bytes. Small and dependency-free so
 * the planner can put it in cache keys without loading the codec.
 */
export const DEFAULT_CHUNK_SIZE = 1 << 20;
export const DEFAULT_LEVEL = 6;
/** zlib memLevel 9 instead of 8: ~20 % less CPU for +0.1 % size (bench/README.md). */
export const MEM_LEVEL = 9;

/**
 * Everything besides the input tree that determines the blob bytes (the diff_id depends on the
 * tree and SOURCE_DATE_EPOCH only). Put it in cache keys that map a diff_id to a blob digest.
 */
export function packRecipe(opts: { level?: number; chunkSize?: number } = {}): string {
  const level = opts.level ?? DEFAULT_LEVEL;
  const chunk = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  return `stacker-tar/1 gzip-members level=${level} memLevel=${MEM_LEVEL} chunk=${chunk} zlib=${process.versions.zlib}`;
}
