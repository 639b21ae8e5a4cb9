import type { ImageSourceType } from '../core/index.js';

/**
 * The directives a layer may use: the yaml tags of stacker's `types.Layer` at HEAD, minus its
 * internal `was_legacy_import` / `was_bom` fields (which stacker's reflection-built whitelist
 * accepts by accident).
 */
export const LAYER_DIRECTIVES = [
  'from',
  'imports',
  'import',
  'overlay_dirs',
  'run',
  'cmd',
  'entrypoint',
  'full_command',
  'build_env',
  'build_env_passthrough',
  'environment',
  'volumes',
  'labels',
  'generate_labels',
  'working_dir',
  'build_only',
  'binds',
  'runtime_user',
  'annotations',
  'os',
  'arch',
  'bom',
] as const;

export type LayerDirective = (typeof LAYER_DIRECTIVES)[number];

export function isLayerDirective(s: string): s is LayerDirective {
  return (LAYER_DIRECTIVES as readonly string[]).includes(s);
}

/** Keys allowed under `from`. */
export const FROM_DIRECTIVES = ['type', 'url', 'tag', 'insecure'] as const;

export const IMAGE_TYPES: readonly ImageSourceType[] = ['docker', 'oci', 'tar', 'built', 'scratch'];

/** Keys of an import mapping; others are ignored with a warning (stacker ignores them silently). */
export const IMPORT_KEYS = ['path', 'hash', 'dest', 'mode', 'uid', 'gid'] as const;
