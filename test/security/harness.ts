/**
 * Helpers for the hostile-layer tests: tar building (tar-stream, independent of our writer),
 * a sandbox with a host directory of sentinel files beside the extraction root, and a snapshot
 * of everything outside the root (type, mode, owner, size, mtime, link count, content, xattrs)
 * to prove an extraction changed nothing there.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { native } from '../../src/oci/layer/native.js';
import { unpackLayer } from '../../src/oci/layer/unpack.js';

export interface Spec {
  name: string;
  type?: 'file' | 'link' | 'symlink' | 'directory' | 'character-device' | 'block-device' | 'fifo';
  linkname?: string;
  content?: Buffer | string;
  mode?: number;
  mtime?: number;
  uid?: number;
  gid?: number;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

export const F = (name: string, content: string | Buffer = 'data', mode = 0o644): Spec => ({ name, content, mode });
export const D = (name: string, mode = 0o755): Spec => ({ name, type: 'directory', mode });
export const S = (name: string, linkname: string): Spec => ({ name, type: 'symlink', linkname, mode: 0o777 });
export const L = (name: string, linkname: string): Spec => ({ name, type: 'link', linkname, mode: 0o644 });

export async function makeTar(specs: Spec[]): Promise<Buffer> {
  const pack = tar.pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) out.push(c as Buffer);
  })();
  for (const s of specs) {
    const content = typeof s.content === 'string' ? Buffer.from(s.content) : s.content;
    const header = {
      name: s.name, type: s.type ?? 'file', mode: s.mode ?? 0o644, uid: s.uid ?? 0, gid: s.gid ?? 0,
      mtime: new Date((s.mtime ?? 1_000_000_000) * 1000), linkname: s.linkname,
      devmajor: s.devmajor, devminor: s.devminor, pax: s.pax,
    };
    await new Promise<void>((resolve, reject) => {
      pack.entry(header as unknown as Parameters<typeof pack.entry>[0], content ?? Buffer.alloc(0), (e) => (e ? reject(e) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(out);
}

export interface Sandbox {
  base: string;
  /** Extraction root (fresh, empty). */
  root: string;
  /** Host directory with sentinels, outside the root. */
  host: string;
  /** Relative path from the root that climbs to `/` (more `..` than needed), ending in `/`. */
  up: string;
  cleanup(): void;
}

const SENTINEL_MTIME = 1_234_567_890;

export function sandbox(): Sandbox {
  const base = mkdtempSync(join(tmpdir(), 'stacker-breakout-'));
  const root = join(base, 'root');
  const host = join(base, 'host');
  mkdirSync(root);
  mkdirSync(join(host, 'etc'), { recursive: true });
  mkdirSync(join(host, 'b'));
  writeFileSync(join(host, 'passwd'), 'root:x:0:0:sentinel\n');
  chmodSync(join(host, 'passwd'), 0o640);
  writeFileSync(join(host, 'perm400'), 'sentinel 400\n');
  chmodSync(join(host, 'perm400'), 0o400);
  writeFileSync(join(host, 'also-exists-outside-root'), 'sentinel\n');
  chmodSync(join(host, 'also-exists-outside-root'), 0o640);
  for (const p of ['passwd', 'perm400', 'also-exists-outside-root', 'etc', 'b', '.']) {
    utimesSync(join(host, p), SENTINEL_MTIME, SENTINEL_MTIME);
  }
  const up = `${Array.from({ length: root.split('/').length + 3 }, () => '..').join('/')}/`;
  return { base, root, host, up, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

function describeNode(p: string): string {
  const st = lstatSync(p);
  let content = '';
  if (st.isFile()) content = createHash('sha256').update(readFileSync(p)).digest('hex');
  else if (st.isSymbolicLink()) content = readlinkSync(p);
  const xattrs = native().llistxattr(p).sort().map((n) => `${n}=${native().lgetxattr(p, n)?.toString('hex')}`);
  return [st.mode.toString(8), st.uid, st.gid, st.size, st.mtimeMs, st.nlink, st.rdev, content, xattrs.join(',')].join(' ');
}

/** Everything under `base` except the extraction root (and the base dir's own times). */
export function snapshotOutside(sb: Sandbox): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (p === sb.root) continue;
      out.set(p, describeNode(p));
      if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  walk(sb.base);
  return out;
}

export async function extract(sb: Sandbox, tarBytes: Buffer, opts: { gzip?: boolean; rawBlob?: boolean; maxUncompressedBytes?: number; maxEntries?: number; maxPathLength?: number } = {}): Promise<{ error?: unknown; warnings: string[] }> {
  const blob = join(sb.base, opts.gzip ? 'layer.tar.gz' : 'layer.tar');
  writeFileSync(blob, opts.gzip && !opts.rawBlob ? gzipSync(tarBytes) : tarBytes);
  const warnings: string[] = [];
  try {
    await unpackLayer(blob, {
      destDir: sb.root, mediaType: opts.gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
      onWarning: (m) => warnings.push(m),
      ...(opts.maxUncompressedBytes !== undefined ? { maxUncompressedBytes: opts.maxUncompressedBytes } : {}),
      ...(opts.maxEntries !== undefined ? { maxEntries: opts.maxEntries } : {}),
      ...(opts.maxPathLength !== undefined ? { maxPathLength: opts.maxPathLength } : {}),
    });
    return { warnings };
  } catch (error) {
    return { error, warnings };
  } finally {
    rmSync(blob, { force: true });
  }
}
