import type { LayerSpec } from '../core/index.js';

/**
 * Bumped whenever what a build produces for the same inputs changes (layer codec, config
 * assembly, run environment). Part of every key.
 */
export const FORMAT_VERSION = 1;

export type BaseInput =
  | { type: 'docker' | 'oci'; ref: string; manifest: string }
  | { type: 'tar'; url: string; digest: string }
  | { type: 'built'; parent: string }
  | { type: 'scratch' };

export interface ImportInput {
  /** As written in the file (relative paths stay relative: no host path enters a key). */
  path: string;
  dest: string | null;
  mode: number | null;
  uid: number | null;
  gid: number | null;
  /** Content digest: a file or tree digest, a pinned hash, or the source layer key + path. */
  digest: string;
}

/**
 * Everything that determines what a layer build produces. Its canonical JSON's sha256 is the
 * cache key; it is stored whole in the index so a miss can be explained input by input.
 */
export interface InputDocument {
  format: number;
  name: string;
  base: BaseInput;
  /** Layers this one depends on (built parent, stacker:// sources) and their keys. */
  parents: { name: string; key: string }[];
  imports: ImportInput[];
  run: string;
  config: {
    environment: Record<string, string>;
    labels: Record<string, string>;
    volumes: string[];
    cmd: string[] | null;
    entrypoint: string[] | null;
    fullCommand: string[] | null;
    workingDir: string | null;
    runtimeUser: string | null;
    annotations: Record<string, string>;
    generateLabels: string[];
    os: string;
    arch: string;
  };
  buildEnv: Record<string, string>;
  buildEnvPassthrough: string[] | null;
  binds: { source: string; dest: string }[];
  /** Host directories copied into the rootfs before `run`; `source` relative to the file's folder. */
  overlayDirs: { source: string; dest: string; digest: string }[];
  buildOnly: boolean;
  legacyImport: boolean;
  sourceDateEpoch: string | null;
  output: { layerType: 'tar+gzip'; recipe: string };
}

export function runText(layer: LayerSpec): string {
  return layer.run.join('\n');
}
