import { createReadStream, linkSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { StackerError, digestHex, isDigest, sha256Digest, type Digest } from '../core/index.js';
import {
  atomicWriteFile,
  corruptError,
  fsyncDir,
  hashFile,
  tempName,
  verifyingStream,
  writeDurableFileSync,
  writeVerifiedFile,
  type BlobInfo,
  type Expected,
} from './blob-io.js';
import { canonicalJsonBytes } from './canonical-json.js';
import { MAX_CONFIG_BYTES, checkIndex, parseJsonBytes } from './documents.js';
import { collectGarbage, type GcResult } from './layout-gc.js';
import { MediaType } from './media-types.js';
import { REF_NAME_ANNOTATION, type Descriptor, type OciIndex } from './types.js';

export interface OpenLayoutOptions {
  /** Create the layout when the directory does not exist (or is empty). */
  create: boolean;
  /** Name used in the "does not look like an OCI Layout" message; default `oci-dir`. */
  paramName?: string;
}

export interface CommitOptions {
  /**
   * Skip the fsync of the blob directory after the rename: the caller calls `syncBlobDir()` once
   * for a batch, before anything (a tag, an index record) refers to the blobs.
   */
  deferDirSync?: boolean;
  /**
   * writeBlob: write and fsync on this thread, for a small document on a path that waits for it
   * anyway (a threadpool round trip per call costs more). Writers of many documents at once
   * leave it unset: their fsyncs then overlap on the threadpool, off this thread.
   */
  sync?: boolean;
}

/** Where in-flight writes live: inside the layout (same filesystem, so rename is atomic). */
const TMP_DIR = '.stacker-tmp';

/** Serializes index.json read-modify-write cycles within this process, per layout directory. */
const indexLocks = new Map<string, Promise<unknown>>();

/**
 * An OCI image layout on disk (image-spec image-layout.md): `oci-layout`, `index.json` and
 * content-addressed `blobs/sha256/<hex>`.
 *
 * - Every read verifies size and digest (`STACKER_E_BLOB_CORRUPT` otherwise).
 * - Blobs are written to a temp file inside the layout, fsynced, then renamed into place, so a
 *   blob path never holds partial content. Writing an existing blob is a no-op.
 * - `index.json` is replaced atomically (temp + fsync + rename), so concurrent readers see the old
 *   or the new index, never a torn one. Read-modify-write cycles are serialized inside this process;
 *   serializing *processes* (and `gc` against writers) is the caller's job (the engine's lock).
 * - Documents we write are canonical JSON (see `canonical-json.ts`): sorted keys, no whitespace.
 * - Small reads (`index.json`, manifests and configs, whether a blob exists) are synchronous: a
 *   round trip through libuv's threadpool costs more than such a read, and a no-op build of 20
 *   layers makes about a hundred of them.
 */
/** How old index.json's timestamps must be before a parse of it is reused (see tagMap). */
const SETTLED_NS = 2_000_000_000n;

export class OciLayout {
  readonly dir: string;
  /** See {@link tagMap}. */
  private tags: { stamp: string; tags: Map<string, Descriptor> } | undefined;
  /** See {@link noteManifest}. */
  private readonly manifestChildren = new Map<Digest, Descriptor[]>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async open(dir: string, opts: OpenLayoutOptions): Promise<OciLayout> {
    const abs = resolve(dir);
    const param = opts.paramName ?? 'oci-dir';
    const notLayout = () =>
      new StackerError('STACKER_E_NOT_OCI_LAYOUT', `parameter ${param}="${dir}" exists but does not look like an OCI Layout.`, {
        hint: 'an OCI layout is a directory with index.json, oci-layout and blobs/; choose another directory or remove this one',
      });
    // Synchronous: a build opens two layouts before anything else can run.
    let st: Stats | undefined;
    try {
      st = statSync(abs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (st !== undefined) {
      if (!st.isDirectory()) throw notLayout();
      if (statSync(join(abs, 'index.json'), { throwIfNoEntry: false })?.isFile() === true) return new OciLayout(abs);
      const empty = readdirSync(abs).length === 0;
      if (!(opts.create && empty)) throw notLayout();
    } else if (!opts.create) {
      throw new StackerError('STACKER_E_OCI_LAYOUT_MISSING', `OCI layout "${dir}" does not exist`);
    }
    mkdirSync(join(abs, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(abs, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}', { flag: 'w' });
    const emptyIndex: OciIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
    // Exclusive create: if another process created the index meanwhile, keep theirs.
    try {
      writeFileSync(join(abs, 'index.json'), canonicalJsonBytes(emptyIndex), { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    fsyncDir(abs);
    return new OciLayout(abs);
  }

  blobPath(d: Digest): string {
    if (!isDigest(d)) throw new Error(`not a sha256 digest: ${JSON.stringify(d)}`);
    return join(this.dir, 'blobs', 'sha256', digestHex(d));
  }

  /**
   * The digests of the blobs present as regular files (one directory listing: for checking many
   * at once; like hasBlob without a size, a symlink or directory in their place does not count).
   */
  blobsPresent(): Set<Digest> {
    try {
      return new Set(readdirSync(join(this.dir, 'blobs', 'sha256'), { withFileTypes: true }).filter((e) => e.isFile()).map((e) => `sha256:${e.name}` as Digest));
    } catch {
      return new Set();
    }
  }

  /** True when the blob file exists (and has `size` bytes, when given). Does not hash. */
  async hasBlob(d: Digest, size?: number): Promise<boolean> {
    let st: Stats | undefined;
    try {
      st = statSync(this.blobPath(d));
    } catch {
      return false;
    }
    return st.isFile() && (size === undefined || st.size === size);
  }

  /** Reads a whole blob into memory, verifying size and digest. For manifests and configs. */
  async readBlob(d: Digest, expectedSize?: number, maxBytes = MAX_CONFIG_BYTES): Promise<Buffer> {
    const path = this.blobPath(d);
    const st = this.statBlob(d);
    if (expectedSize !== undefined && st.size !== expectedSize) {
      throw corruptError(`blob ${d} in ${this.dir}`, `${st.size} bytes, expected ${expectedSize}`);
    }
    if (st.size > maxBytes) {
      throw corruptError(`blob ${d} in ${this.dir}`, `${st.size} bytes is more than the ${maxBytes} allowed here`);
    }
    const buf = readFileSync(path);
    const actual = sha256Digest(buf);
    if (actual !== d) throw corruptError(`blob ${d} in ${this.dir}`, `content digest is ${actual}`);
    if (expectedSize !== undefined && buf.length !== expectedSize) {
      throw corruptError(`blob ${d} in ${this.dir}`, `${buf.length} bytes, expected ${expectedSize}`);
    }
    return buf;
  }

  async readJson<T>(d: Digest, expectedSize?: number): Promise<T> {
    const buf = await this.readBlob(d, expectedSize);
    return parseJsonBytes(buf, 'document', `blob ${d} in ${this.dir}`) as T;
  }

  /**
   * A stream of the blob's bytes that errors (`STACKER_E_BLOB_CORRUPT`) if the content turns out
   * not to match: consumers must treat the data as untrusted until the stream ends cleanly.
   */
  openBlob(d: Digest, expectedSize?: number): Readable {
    const src = createReadStream(this.blobPath(d), { highWaterMark: 1 << 20 });
    const exp: Expected = { digest: d, ...(expectedSize === undefined ? {} : { size: expectedSize }) };
    return Readable.from(verifyingStream(src, exp, `blob ${d} in ${this.dir}`), { objectMode: false });
  }

  /** Hashes the blob on disk; throws `STACKER_E_BLOB_CORRUPT` on mismatch. */
  async verifyBlob(d: Digest, expectedSize?: number): Promise<void> {
    const st = this.statBlob(d);
    if (expectedSize !== undefined && st.size !== expectedSize) {
      throw corruptError(`blob ${d} in ${this.dir}`, `${st.size} bytes, expected ${expectedSize}`);
    }
    const info = await hashFile(this.blobPath(d));
    if (info.digest !== d) throw corruptError(`blob ${d} in ${this.dir}`, `content digest is ${info.digest}`);
  }

  /** Stores bytes as a blob; returns its digest and size. Idempotent. */
  async writeBlob(bytes: Uint8Array | string, opts: CommitOptions = {}): Promise<BlobInfo> {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    if (opts.sync !== true) return this.writeBlobFrom(buf, {}, undefined, opts);
    // Written and renamed over any copy, as the streaming path does: a damaged copy of the same size is replaced.
    const info = { digest: sha256Digest(buf), size: buf.length };
    const tmp = this.tempPath();
    writeDurableFileSync(tmp, buf);
    this.commitTemp(tmp, info, opts);
    return info;
  }

  /**
   * Streams a blob in from `source`, hashing as it goes; with `expected`, refuses content that
   * does not match (and stops reading past the expected size). Idempotent when the digest is
   * known in advance and the blob is already present.
   */
  async writeBlobFrom(
    source: AsyncIterable<Uint8Array> | Uint8Array,
    expected: Expected = {},
    onBytes?: (bytes: number) => void,
    opts: CommitOptions = {},
  ): Promise<BlobInfo> {
    if (expected.digest !== undefined && expected.size !== undefined && (await this.hasBlob(expected.digest, expected.size))) {
      return { digest: expected.digest, size: expected.size };
    }
    const tmp = this.tempPath();
    const info = await writeVerifiedFile(tmp, source, expected, `blob ${expected.digest ?? ''}`.trim(), onBytes);
    this.commitTemp(tmp, info, opts);
    return info;
  }

  /**
   * Adds the file at `srcPath` as blob `digest`: a hard link when possible (same filesystem and
   * allowed), otherwise a copy. The stored content is verified either way, except a link made
   * with `trusted` (a file stacker wrote and digested itself), whose size alone is checked.
   */
  async importBlob(srcPath: string, digest: Digest, size: number, opts: CommitOptions & { trusted?: boolean } = {}): Promise<BlobInfo> {
    if (await this.hasBlob(digest, size)) return { digest, size };
    // Metadata calls on this thread (cheaper than threadpool round trips); contents stream.
    const st = statSync(srcPath);
    const what = `blob ${digest} from ${srcPath}`;
    if (st.size !== size) throw corruptError(what, `${st.size} bytes, expected ${size}`);
    const tmp = this.tempPath();
    let linked = false;
    try {
      linkSync(srcPath, tmp);
      linked = true;
    } catch {
      // EXDEV (another filesystem), EPERM (protected_hardlinks), ...: fall back to a copy.
    }
    if (linked) {
      // Hash the inode we are about to keep, not the path we hashed earlier; unless stacker made
      // and digested it itself (a layer it just packed): that would read the layer once more.
      const info = opts.trusted === true ? { digest, size } : await hashFile(tmp).catch((e: unknown) => {
        rmSync(tmp, { force: true });
        throw e;
      });
      if (info.digest !== digest || info.size !== size) {
        rmSync(tmp, { force: true });
        throw corruptError(what, `content digest is ${info.digest} (${info.size} bytes)`);
      }
      this.commitTemp(tmp, info, opts);
      return info;
    }
    const info = await writeVerifiedFile(tmp, createReadStream(srcPath, { highWaterMark: 1 << 20 }), { digest, size }, what);
    this.commitTemp(tmp, info, opts);
    return info;
  }

  /** Writes `value` as canonical JSON (sorted keys, no whitespace) and stores it as a blob. */
  async writeJson(value: unknown, opts: CommitOptions = {}): Promise<BlobInfo & { bytes: Buffer }> {
    const bytes = canonicalJsonBytes(value);
    const info = await this.writeBlob(bytes, opts);
    return { ...info, bytes };
  }

  /** The current `index.json`, validated. */
  async readIndex(): Promise<OciIndex> {
    return this.readIndexNow();
  }

  private readIndexNow(): OciIndex {
    const path = join(this.dir, 'index.json');
    return checkIndex(parseJsonBytes(readFileSync(path), 'index', path), path);
  }

  /** Tag names in index order (entries without a ref name are skipped). */
  async listTags(): Promise<string[]> {
    const idx = await this.readIndex();
    return idx.manifests.flatMap((m) => {
      const n = m.annotations?.[REF_NAME_ANNOTATION];
      return n === undefined ? [] : [n];
    });
  }

  /** The first `index.json` entry named `name`, or undefined. */
  async resolveTag(name: string): Promise<Descriptor | undefined> {
    const d = this.tagMap().get(name);
    return d === undefined ? undefined : structuredClone(d);
  }

  /**
   * Each ref name's first `index.json` entry, as of now: for a caller resolving many tags at
   * once (the copy is its own; a new read of a file written less than 2 s ago costs a parse).
   */
  tagsNow(): Map<string, Descriptor> {
    return new Map([...this.tagMap()].map(([n, d]) => [n, structuredClone(d)]));
  }

  /**
   * The first `index.json` entry of each ref name, parsed once per version of the file: a build
   * resolving each of its n tags would otherwise parse and check the whole index n times. A
   * version is the file's inode, size and timestamps (writers replace it by rename), trusted only
   * once they are 2 s old: a rewrite in place within one timestamp tick could keep them all.
   */
  private tagMap(): Map<string, Descriptor> {
    const st = statSync(join(this.dir, 'index.json'), { bigint: true });
    const stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    if (this.tags?.stamp === stamp) return this.tags.tags;
    const tags = new Map<string, Descriptor>();
    for (const m of this.readIndexNow().manifests) {
      const n = m.annotations?.[REF_NAME_ANNOTATION];
      if (n !== undefined && !tags.has(n)) tags.set(n, m);
    }
    const newest = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
    this.tags = BigInt(Date.now()) * 1_000_000n - newest > SETTLED_NS ? { stamp, tags } : undefined;
    return tags;
  }

  async setTag(name: string, desc: Descriptor): Promise<void> {
    await this.setTags(new Map([[name, desc]]));
  }

  /**
   * Points each tag at its descriptor in one atomic index update. An existing entry with the same
   * ref name is replaced in place (others keep their order); new tags are appended in map order.
   */
  async setTags(tags: Map<string, Descriptor> | Record<string, Descriptor>): Promise<void> {
    const entries = tags instanceof Map ? [...tags] : Object.entries(tags);
    for (const [name] of entries) {
      if (name === '') throw new StackerError('STACKER_E_BAD_TAG', 'empty tag name');
    }
    await this.updateIndex((idx) => {
      for (const [name, desc] of entries) {
        const entry: Descriptor = { ...desc, annotations: { ...desc.annotations, [REF_NAME_ANNOTATION]: name } };
        const at = idx.manifests.findIndex((m) => m.annotations?.[REF_NAME_ANNOTATION] === name);
        if (at < 0) {
          idx.manifests.push(entry);
          continue;
        }
        idx.manifests[at] = entry;
        // Drop any further duplicates of the same name so the tag is unambiguous.
        idx.manifests = idx.manifests.filter((m, i) => i <= at || m.annotations?.[REF_NAME_ANNOTATION] !== name);
      }
    });
  }

  /** Removes every entry named `name`; true when something was removed. */
  async removeTag(name: string): Promise<boolean> {
    let removed = false;
    await this.updateIndex((idx) => {
      const before = idx.manifests.length;
      idx.manifests = idx.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] !== name);
      removed = idx.manifests.length !== before;
    });
    return removed;
  }

  /**
   * Records what an image manifest this process wrote or tagged in this layout refers to (its
   * config and layers), so that `gc` need not read and verify it again: blobs are content
   * addressed, so a digest's children never change.
   */
  noteManifest(digest: Digest, children: Descriptor[]): void {
    this.manifestChildren.set(digest, children);
  }

  /** The children `noteManifest` recorded for a manifest, if it did. */
  notedChildren(digest: Digest): Descriptor[] | undefined {
    return this.manifestChildren.get(digest);
  }

  /**
   * Deletes blobs not reachable from `index.json` (through indexes, manifests, configs, layers)
   * and temp files left by crashed writers more than an hour old. Must not run while another
   * process writes to this layout (the engine holds its lock around it).
   */
  async gc(): Promise<GcResult> {
    return this.withIndexLock(() => collectGarbage(this, join(this.dir, TMP_DIR)));
  }

  private async updateIndex(mutate: (idx: OciIndex) => void): Promise<void> {
    await this.withIndexLock(async () => {
      const idx = await this.readIndex();
      mutate(idx);
      atomicWriteFile(join(this.dir, 'index.json'), canonicalJsonBytes(idx));
    });
  }

  private async withIndexLock<T>(fn: () => Promise<T>): Promise<T> {
    const prev = indexLocks.get(this.dir) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    indexLocks.set(this.dir, tail);
    try {
      return await run;
    } finally {
      if (indexLocks.get(this.dir) === tail) indexLocks.delete(this.dir);
    }
  }

  private statBlob(d: Digest): Stats {
    try {
      return statSync(this.blobPath(d));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new StackerError('STACKER_E_BLOB_MISSING', `blob ${d} is missing from ${this.dir}`);
      }
      throw e;
    }
  }

  private tempPath(): string {
    const dir = join(this.dir, TMP_DIR);
    mkdirSync(dir, { recursive: true });
    return tempName(dir);
  }

  private commitTemp(tmp: string, info: BlobInfo, opts: CommitOptions): void {
    const dest = this.blobPath(info.digest);
    try {
      mkdirSync(join(this.dir, 'blobs', 'sha256'), { recursive: true });
      renameSync(tmp, dest);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    if (opts.deferDirSync !== true) this.syncBlobDir();
  }

  /**
   * Makes the blobs committed so far durable (their names: each file's content is synced before
   * its rename). For writers that pass `deferDirSync` to several writes and sync once before
   * anything points at them.
   */
  syncBlobDir(): void {
    fsyncDir(join(this.dir, 'blobs', 'sha256'));
  }
}

/** Makes a descriptor from a media type and the result of a blob write. */
export function descriptorOf(mediaType: string, info: BlobInfo, annotations?: Record<string, string>): Descriptor {
  return annotations === undefined
    ? { mediaType, digest: info.digest, size: info.size }
    : { mediaType, digest: info.digest, size: info.size, annotations };
}
