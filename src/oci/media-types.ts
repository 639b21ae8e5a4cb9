/**
 * Media types of the OCI image spec and of Docker's image manifest v2 schema 2, and the mapping
 * between them. Docker and OCI layer blobs have the same bytes; only the label differs, so
 * normalizing a descriptor never changes a digest.
 */

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  /** Deprecated non-distributable ("foreign") layers; read, never produced. */
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  ociEmpty: 'application/vnd.oci.empty.v1+json',

  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  /** Schema 1 manifests: recognised only to be refused with a clear message. */
  dockerManifestV1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerManifestV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export type KnownMediaType = (typeof MediaType)[keyof typeof MediaType];

/** The Accept header value for manifest requests: everything we can read, single-image first. */
export const MANIFEST_ACCEPT = [
  MediaType.ociManifest,
  MediaType.dockerManifest,
  MediaType.ociIndex,
  MediaType.dockerManifestList,
].join(', ');

export function isImageManifestType(mt: string | undefined): boolean {
  return mt === MediaType.ociManifest || mt === MediaType.dockerManifest;
}

export function isIndexType(mt: string | undefined): boolean {
  return mt === MediaType.ociIndex || mt === MediaType.dockerManifestList;
}

export function isSchema1Type(mt: string | undefined): boolean {
  return mt === MediaType.dockerManifestV1 || mt === MediaType.dockerManifestV1Signed;
}

const LAYER_MAP: Record<string, string> = {
  [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
  [MediaType.dockerLayerForeignGzip]: MediaType.ociLayerNondistributableGzip,
};

/**
 * Maps a Docker layer media type to its OCI equivalent (OCI and unknown types pass unchanged:
 * the image spec says unknown media types must not cause errors). Blob bytes are identical.
 */
export function normalizeLayerMediaType(mt: string): string {
  return LAYER_MAP[mt] ?? mt;
}

/** Maps a Docker config / manifest / list media type to the OCI one; others unchanged. */
export function normalizeMediaType(mt: string): string {
  switch (mt) {
    case MediaType.dockerConfig:
      return MediaType.ociConfig;
    case MediaType.dockerManifest:
      return MediaType.ociManifest;
    case MediaType.dockerManifestList:
      return MediaType.ociIndex;
    default:
      return normalizeLayerMediaType(mt);
  }
}

export type LayerCompression = 'gzip' | 'zstd' | 'none' | 'unknown';

/** The compression a layer media type announces (after normalization). */
export function layerCompression(mt: string): LayerCompression {
  const n = normalizeLayerMediaType(mt);
  if (n.endsWith('+gzip') || n.endsWith('.tar.gzip')) return 'gzip';
  if (n.endsWith('+zstd')) return 'zstd';
  if (n === MediaType.ociLayer || n === MediaType.ociLayerNondistributable) return 'none';
  return 'unknown';
}

export function isGzipLayer(mt: string): boolean {
  return layerCompression(mt) === 'gzip';
}

export function isZstdLayer(mt: string): boolean {
  return layerCompression(mt) === 'zstd';
}

export function isUncompressedLayer(mt: string): boolean {
  return layerCompression(mt) === 'none';
}

/** True for the tar layer media types we know (OCI or Docker, any compression). */
export function isLayerMediaType(mt: string): boolean {
  return layerCompression(mt) !== 'unknown';
}

/** Non-distributable ("foreign") layers: deprecated, may carry `urls`. */
export function isNondistributableLayer(mt: string): boolean {
  return normalizeLayerMediaType(mt).includes('.nondistributable.');
}
