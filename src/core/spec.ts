import type { SourceLocation } from './errors.js';

/**
 * The typed form of one or more stacker.yaml files after substitution and validation.
 * Produced by `config/`, consumed by `graph/`, `fingerprint/` and `engine/`.
 * Every user-visible value keeps the location it came from, for diagnostics.
 */
export interface BuildSpec {
  /** Files in load order: prerequisites before the files that require them. */
  files: StackerFile[];
  /** Every layer of every file, in build-file order (prerequisite files first), keyed by name. */
  layers: Map<string, LayerSpec>;
}

export interface StackerFile {
  /** Absolute path of the file (or the URL it was read from). */
  path: string;
  /** Directory against which relative import paths are resolved. */
  referenceDir: string;
  /** The file text after substitution; goes into the `<ns>.stacker.stacker_yaml` annotation. */
  substitutedText: string;
  /** Absolute paths of prerequisite files, as listed in `config.prerequisites`. */
  prerequisites: string[];
  /** Layer names in file order. */
  layerNames: string[];
}

export type ImageSourceType = 'docker' | 'oci' | 'tar' | 'built' | 'scratch';

export interface ImageSource {
  type: ImageSourceType;
  /** docker: `docker://host/repo:tag`, or another containers transport like `oci:/path:tag`.
   *  oci: `<layout-path>:<tag>` (layout path resolved against the CWD, as stacker does).
   *  tar: a local path (resolved against the CWD), an http(s) URL, or `stacker://layer/path`. */
  url?: string;
  /** built: the parent layer's name. */
  tag?: string;
  /** docker: allow plain http / skip TLS verification. */
  insecure: boolean;
  location: SourceLocation;
}

export interface ImportSpec {
  /** As written after substitution (kept for messages and for the cache key). */
  rawPath: string;
  /** Absolute local path (resolved against the file's directory), or the URL unchanged. */
  path: string;
  kind: 'local' | 'http' | 'stacker';
  /** For `stacker://layer/path`: the layer and the path inside it. */
  stackerLayer?: string;
  stackerPath?: string;
  /** Lowercase sha256 hex without prefix, when given. */
  hash?: string;
  /** Absolute destination inside the rootfs; when unset, the import is only visible under /stacker/imports. */
  dest?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  location: SourceLocation;
}

export interface BindSpec {
  /** Absolute host path. */
  source: string;
  /** Absolute path inside the container. */
  dest: string;
  location: SourceLocation;
}

export interface LayerSpec {
  name: string;
  /** Absolute path of the file that defines it. */
  file: string;
  referenceDir: string;
  location: SourceLocation;
  from: ImageSource;
  imports: ImportSpec[];
  /** True when the layer used the deprecated `import:` form (imports also visible at /stacker). */
  legacyImport: boolean;
  /** The script lines; joined with "\n". Empty means nothing runs. */
  run: string[];
  cmd?: string[];
  entrypoint?: string[];
  fullCommand?: string[];
  buildEnv: Record<string, string>;
  /** Regexes (anchored as ^re$) of host variables passed into `run`; undefined means the default list. */
  buildEnvPassthrough?: string[];
  environment: Record<string, string>;
  volumes: string[];
  labels: Record<string, string>;
  generateLabels: string[];
  workingDir?: string;
  buildOnly: boolean;
  binds: BindSpec[];
  runtimeUser?: string;
  annotations: Record<string, string>;
  os: string;
  arch: string;
  overlayDirs: { source: string; dest: string; location: SourceLocation }[];
}
