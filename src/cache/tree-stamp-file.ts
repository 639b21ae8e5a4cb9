import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Digest } from '../core/digest.js';
import type { TreeStamp } from './types.js';

/**
 * The tree stamps of a stacker dir (fingerprint/tree-stamp.ts), in `<stacker-dir>/tree-stamps.json`:
 * one small entry per directory import, read whole at the start of planning. A lost update (two
 * processes saving at once) only costs one file-by-file walk of a tree; a damaged file reads as
 * empty. `stacker clean` removes it with the stacker dir.
 */
const FILE = 'tree-stamps.json';
const FORMAT = 1;

type Stored = Record<string, [stamp: string, digest: string, recordedAtNs: string]>;

function read(stackerDir: string): Stored {
  try {
    const data = JSON.parse(readFileSync(join(stackerDir, FILE), 'utf8')) as { format?: unknown; trees?: Stored };
    return data.format === FORMAT && typeof data.trees === 'object' && data.trees !== null ? data.trees : {};
  } catch {
    return {};
  }
}

export function loadTreeStamps(stackerDir: string): Map<string, TreeStamp> {
  const out = new Map<string, TreeStamp>();
  for (const [key, [stamp, digest, at]] of Object.entries(read(stackerDir))) {
    out.set(key, { stamp, digest: digest as Digest, recordedAtNs: BigInt(at) });
  }
  return out;
}

/** Adds (or replaces) stamps; the others in the file stay. */
export function saveTreeStamps(stackerDir: string, stamps: Map<string, TreeStamp>): void {
  if (stamps.size === 0) return;
  const trees = read(stackerDir);
  for (const [key, t] of stamps) trees[key] = [t.stamp, t.digest, String(t.recordedAtNs)];
  const file = join(stackerDir, FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify({ format: FORMAT, trees }));
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
