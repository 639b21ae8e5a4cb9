import type { Digest } from '../core/index.js';

/**
 * OCI image-spec JSON types (image-spec v1.1). Docker schema 2 manifests and manifest lists have
 * the same shape, so they are read into these types too; `mediaType` tells them apart.
 * Unknown fields are kept when a document is read and written back unchanged (we always store
 * the original bytes of pulled documents, never a re-serialization).
 */

/** A content descriptor: what a blob is, how big, and its digest. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  artifactType?: string;
  /** Only on index entries. */
  platform?: Platform;
}

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

/** application/vnd.oci.image.manifest.v1+json (or Docker's schema 2 manifest). */
export interface OciManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** application/vnd.oci.image.index.v1+json (or Docker's manifest list); also `index.json`. */
export interface OciIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** The runtime part of an image config (`config` in config.md). */
export interface ImageRuntimeConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** application/vnd.oci.image.config.v1+json (or Docker's container image config). */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: ImageRuntimeConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
}

/** The annotation that names a tag on an `index.json` entry. */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** The content of the `oci-layout` file. */
export interface OciLayoutFile {
  imageLayoutVersion: string;
}
