import { createHash } from 'node:crypto';
import { chmodSync, closeSync, cpSync, existsSync, lchownSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { StackerError, type ImportSpec, type LayerSpec } from '../core/index.js';
import { copyIntoRootfs, placeDestImport, type Ownership } from './copy-into-rootfs.js';
import { changedNear, ownedStatTuple } from '../fingerprint/stat-cache.js';
import { stampTree } from '../fingerprint/tree-stamp.js';
import { fetchUrl } from './fetch-url.js';

/** Reads a path out of another layer's rootfs (mounted read-only while the callback runs). */
export type GrabFn = (layer: string, path: string, use: (hostPath: string) => void) => Promise<void>;

export interface ImportContext {
  importsDir: string;
  /** Where the imports dir's copies are recorded (outside it). */
  copiesFile: string;
  downloadsDir: string;
  grab: GrabFn;
}

/** Name an import has under /stacker/imports (and /stacker): the last path component. */
export function importName(imp: ImportSpec): string {
  let p: string;
  if (imp.kind === 'stacker') p = imp.stackerPath ?? '';
  else if (imp.kind === 'http') p = URL.canParse(imp.path) ? decodeURIComponent(new URL(imp.path).pathname) : imp.path;
  else p = imp.path;
  return basename(p.replace(/\/+$/, '')) || 'import';
}

/**
 * Puts every import where the run step sees it: imports without `dest` in the layer's imports
 * dir (bound read-only at /stacker/imports), imports with `dest` straight into the rootfs.
 * Returns the names made available under /stacker/imports. Anything else in the imports dir is
 * removed, so an import removed from the stacker.yaml is not visible any more.
 *
 * Imports are copies: a run step is root in its user namespace and could remount its binds
 * writable, so it must never see the user's own files. A local import's copy (a file, or a
 * directory and all in it) from the layer's last build is kept when neither the import nor the
 * copy changed since (their stat data, with the stat cache's racily-clean rule; the record is
 * outside the imports dir, out of the run step's reach): rebuilding a layer for its `run` does
 * not copy a large import again (and the copy's pages need no writing back when the build's
 * overlay is unmounted).
 */
export async function materializeImports(layer: LayerSpec, rootfs: string, ctx: ImportContext): Promise<string[]> {
  const recordFile = ctx.copiesFile;
  const previous = readCopyRecords(recordFile);
  rmSync(recordFile, { force: true });
  mkdirSync(dirname(recordFile), { recursive: true });
  const wanted = new Set(layer.imports.filter((i) => i.dest === undefined).map(importName));
  mkdirSync(ctx.importsDir, { recursive: true });
  for (const n of readdirSync(ctx.importsDir)) if (!wanted.has(n)) rmSync(join(ctx.importsDir, n), { recursive: true, force: true });
  const records: Record<string, CopyRecord> = {};
  const names: string[] = [];
  for (const imp of layer.imports) {
    await withSource(imp, ctx, (src) => {
      const name = importName(imp);
      if (imp.dest !== undefined) {
        const isDir = lstatSync(src).isDirectory();
        const target = placeDestImport({ sourceIsDir: isDir, path: imp.rawPath, dest: imp.dest, basename: name });
        copyIntoRootfs(src, rootfs, target, own(imp));
        return;
      }
      const dst = join(ctx.importsDir, name);
      const ownership = JSON.stringify(own(imp));
      const kept = imp.kind === 'local' ? keptCopy(previous[name], src, dst, ownership) : undefined;
      delete records[name];
      if (kept !== undefined) {
        records[name] = kept;
      } else {
        rmSync(dst, { recursive: true, force: true });
        const at = BigInt(Date.now()) * 1_000_000n;
        const srcStat = imp.kind === 'local' ? statStamp(src) : undefined;
        cpSync(src, dst, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
        applyImportOwnership(dst, own(imp));
        const dstStat = srcStat !== undefined ? statStamp(dst) : undefined;
        if (srcStat !== undefined && dstStat !== undefined) records[name] = { src, srcStat, dstStat, ownership, at: String(at) };
      }
      if (!names.includes(name)) names.push(name);
    });
  }
  try {
    writeFileSync(recordFile, JSON.stringify(records));
  } catch {
    // Only a later rebuild's copy is at stake.
  }
  return names;
}

/** A copy in the imports dir, as made: from which file, both files' stat data, when. */
interface CopyRecord { src: string; srcStat: string; dstStat: string; ownership: string; at: string }

function readCopyRecords(file: string): Record<string, CopyRecord> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, CopyRecord>;
  } catch {
    return {};
  }
}

/** The record of `dst` when it is still an exact copy of `src` as it is now; undefined otherwise. */
function keptCopy(rec: CopyRecord | undefined, src: string, dst: string, ownership: string): CopyRecord | undefined {
  if (rec === undefined || rec.src !== src || rec.ownership !== ownership) return undefined;
  // Racily clean: an entry changed just before it was copied may have changed again since.
  const s = statStamp(src, BigInt(rec.at));
  if (s === undefined || s !== rec.srcStat) return undefined;
  return statStamp(dst) === rec.dstStat ? rec : undefined;
}

/**
 * The stat data of a file (its ownedStatTuple), or of a directory and everything in it (its tree
 * stamp, as the planner's): what changes whenever a content, a name, a mode or an owner does.
 * Undefined when it cannot be read, is neither, or (with `at`) it changed too close to `at` to
 * tell a later change by its stat data.
 */
function statStamp(p: string, at?: bigint): string | undefined {
  const st = lstatSync(p, { bigint: true, throwIfNoEntry: false });
  if (st === undefined) return undefined;
  if (st.isFile()) return at !== undefined && changedNear(st, at) ? undefined : ownedStatTuple(st);
  if (!st.isDirectory()) return undefined;
  const tree = stampTree(p, st);
  if (tree === undefined || (at !== undefined && changedNear({ mtimeNs: tree.newestNs, ctimeNs: tree.newestNs }, at))) return undefined;
  return `tree:${tree.stamp}`;
}

function own(imp: ImportSpec): Ownership {
  return { ...(imp.mode !== undefined ? { mode: imp.mode } : {}), ...(imp.uid !== undefined ? { uid: imp.uid } : {}), ...(imp.gid !== undefined ? { gid: imp.gid } : {}) };
}

/** `mode` on files (every file of a directory), `uid`/`gid` on everything; symlinks are not followed. */
function applyImportOwnership(p: string, o: Ownership): void {
  if (o.mode === undefined && o.uid === undefined && o.gid === undefined) return;
  const st = lstatSync(p);
  if (st.isDirectory()) {
    for (const n of readdirSync(p)) applyImportOwnership(join(p, n), o);
  } else if (o.mode !== undefined && st.isFile()) {
    chmodSync(p, o.mode);
  }
  if (o.uid !== undefined || o.gid !== undefined) lchownSync(p, o.uid ?? st.uid, o.gid ?? st.gid);
}

/**
 * Checks a local import against its `hash:` (files only; stacker does not hash directories).
 * Throws the user-facing error, located at the import. Exported for the planner, so that a
 * wrong hash is reported even when the layer would be a cache hit.
 */
export function verifyLocalImportHash(imp: ImportSpec): void {
  if (imp.kind !== 'local' || imp.hash === undefined) return;
  let st;
  try {
    st = statSync(imp.path);
  } catch {
    return; // reported as a missing import where the import is used
  }
  if (!st.isFile()) return;
  const actual = sha256File(imp.path);
  if (actual !== imp.hash) {
    throw new StackerError('STACKER_E_IMPORT_HASH',
      `The requested hash of ${imp.rawPath} import is different than the actual hash: ${imp.hash} != ${actual}`, {
        location: imp.location,
        hint: 'update `hash:` in the stacker.yaml if the file changed on purpose',
      });
  }
}

async function withSource(imp: ImportSpec, ctx: ImportContext, use: (src: string) => void): Promise<void> {
  if (imp.kind === 'stacker') {
    const layer = imp.stackerLayer!;
    const path = imp.stackerPath ?? '/';
    await ctx.grab(layer, path, (hostPath) => {
      if (!existsSync(hostPath) && !isSymlink(hostPath)) {
        throw new StackerError('STACKER_E_IMPORT_MISSING', `import ${imp.rawPath}: no ${posix.normalize(path)} in layer ${layer}`, {
          location: imp.location,
          hint: `the path is looked up in the rootfs of ${layer} as built`,
        });
      }
      use(hostPath);
    });
    return;
  }
  if (imp.kind === 'http') {
    // The plan has just fetched (or revalidated) an unpinned URL; a pinned one is verified here.
    const { file } = await fetchUrl(ctx.downloadsDir, imp.path, imp.hash, { revalidate: false, location: imp.location });
    const named = join(ctx.downloadsDir, 'named', createHash('sha256').update(imp.path).digest('hex').slice(0, 16));
    rmSync(named, { recursive: true, force: true });
    mkdirSync(named, { recursive: true });
    const target = join(named, importName(imp));
    cpSync(file, target);
    try {
      use(target);
    } finally {
      rmSync(named, { recursive: true, force: true });
    }
    return;
  }
  if (!existsSync(imp.path) && !isSymlink(imp.path)) {
    throw new StackerError('STACKER_E_IMPORT_MISSING', `import ${imp.rawPath} not found (${imp.path})`, {
      location: imp.location,
      hint: "paths are relative to the stacker.yaml's folder",
    });
  }
  verifyLocalImportHash(imp);
  use(imp.path);
}

function sha256File(path: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
