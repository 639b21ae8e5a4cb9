/**
 * Hand-made OCI layouts for registry tests, written with plain fs, `tar` and `gzip` (not with
 * our OciLayout), so the code under test reads something it did not write. Also a `skopeo` wrapper.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface BlobRef {
  mediaType: string;
  digest: string;
  size: number;
}

export interface HandImage {
  manifest: BlobRef;
  config: BlobRef;
  layers: BlobRef[];
  diffIds: string[];
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function initLayout(dir: string): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [] }, null, 2));
}

export async function addBlob(dir: string, bytes: Buffer, mediaType: string): Promise<BlobRef> {
  const digest = sha(bytes);
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
  return { mediaType, digest, size: bytes.length };
}

/** A tar+gzip layer of `files` (path → content) made with `tar czf`. */
export async function addGzipLayer(dir: string, files: Record<string, string>): Promise<{ blob: BlobRef; diffId: string }> {
  const root = await mkdtemp(join(tmpdir(), 'hand-layer-'));
  try {
    for (const [p, content] of Object.entries(files)) {
      await mkdir(dirname(join(root, 'fs', p)), { recursive: true });
      await writeFile(join(root, 'fs', p), content);
    }
    execFileSync('tar', ['czf', join(root, 'layer.tgz'), '-C', join(root, 'fs'), '.']);
    const gz = await readFile(join(root, 'layer.tgz'));
    const blob = await addBlob(dir, gz, 'application/vnd.oci.image.layer.v1.tar+gzip');
    return { blob, diffId: sha(gunzipSync(gz)) };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** One image: `layers` each a file map; written as OCI (default) media types. */
export async function addImage(dir: string, arch: string, layers: Record<string, string>[]): Promise<HandImage> {
  const ls: BlobRef[] = [];
  const diffIds: string[] = [];
  for (const files of layers) {
    const l = await addGzipLayer(dir, files);
    ls.push(l.blob);
    diffIds.push(l.diffId);
  }
  const cfg = {
    created: '2024-01-01T00:00:00Z',
    architecture: arch,
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'hand' })),
  };
  const config = await addBlob(dir, Buffer.from(JSON.stringify(cfg, null, 1)), 'application/vnd.oci.image.config.v1+json');
  const m = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: ls };
  const manifest = await addBlob(dir, Buffer.from(JSON.stringify(m, null, 2)), 'application/vnd.oci.image.manifest.v1+json');
  return { manifest, config, layers: ls, diffIds };
}

export async function addIndex(dir: string, entries: { image: HandImage; arch: string; variant?: string }[]): Promise<BlobRef> {
  const idx = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: entries.map((e) => ({
      ...e.image.manifest,
      platform: { architecture: e.arch, os: 'linux', ...(e.variant === undefined ? {} : { variant: e.variant }) },
    })),
  };
  return addBlob(dir, Buffer.from(JSON.stringify(idx, null, 2)), 'application/vnd.oci.image.index.v1+json');
}

export async function tag(dir: string, name: string, desc: BlobRef): Promise<void> {
  const path = join(dir, 'index.json');
  const idx = JSON.parse(await readFile(path, 'utf8')) as { manifests: unknown[] };
  idx.manifests.push({ ...desc, annotations: { 'org.opencontainers.image.ref.name': name } });
  await writeFile(path, JSON.stringify(idx, null, 2));
}

/**
 * Runs skopeo with `--insecure-policy`; resolves to stdout. Asynchronous on purpose: a token
 * server living in the test process must keep answering while skopeo runs.
 */
export async function skopeo(...args: string[]): Promise<string> {
  return (await skopeoBytes(...args)).toString('utf8');
}

export function skopeoBytes(...args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', ['--insecure-policy', ...args], { encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`skopeo ${args.join(' ')} failed: ${stderr.toString()}`));
      else resolve(stdout);
    });
  });
}

/** `skopeo inspect` of a plain-http registry image. */
export async function skopeoInspect(ref: string, creds?: string): Promise<{ Digest: string; Layers: string[]; Architecture: string }> {
  const c = creds === undefined ? [] : ['--creds', creds];
  return JSON.parse(await skopeo('inspect', '--tls-verify=false', ...c, ref)) as { Digest: string; Layers: string[]; Architecture: string };
}

/** The manifest bytes exactly as the registry serves them. */
export function skopeoRaw(ref: string, creds?: string): Promise<Buffer> {
  const c = creds === undefined ? [] : ['--creds', creds];
  return skopeoBytes('inspect', '--raw', '--tls-verify=false', ...c, ref);
}

export const sha256Of = sha;
