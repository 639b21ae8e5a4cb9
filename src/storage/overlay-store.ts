import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Digest } from '../core/index.js';
import { digestHex } from '../core/index.js';

/**
 * The roots dir: extracted layers shared by every image (`sha256_<diffid>/overlay`, made once
 * per diff_id: "multiple images built from the same source are only extracted once") and the
 * per-layer work areas (`<layer>/{upper,work,rootfs}`) of builds in progress.
 */
export class OverlayStore {
  constructor(readonly rootsDir: string) {}

  /** Relative (to rootsDir) path of the extracted form of a layer; relative keeps mount options short. */
  layerDirRel(diffId: Digest | string): string {
    return `sha256_${digestHex(diffId as Digest)}/overlay`;
  }

  layerDir(diffId: Digest | string): string {
    return join(this.rootsDir, this.layerDirRel(diffId));
  }

  hasLayer(diffId: Digest | string): boolean {
    return existsSync(this.layerDir(diffId));
  }

  /** A fresh temp dir inside the roots dir (same filesystem, so a rename publishes it). */
  tempDir(prefix: string): string {
    mkdirSync(this.rootsDir, { recursive: true });
    return mkdtempSync(join(this.rootsDir, `.tmp-${prefix}-`));
  }

  /** Publishes an extracted or built layer dir atomically; if it already exists, drops `src`. */
  publishLayer(src: string, diffId: Digest | string): void {
    const dst = this.layerDir(diffId);
    if (existsSync(dst)) {
      rmSync(src, { recursive: true, force: true });
      return;
    }
    mkdirSync(join(dst, '..'), { recursive: true });
    renameSync(src, dst);
  }

  /**
   * Removes what builds killed half-way left: temp dirs of extractions, grabs and label runs.
   * Call with the build lock held, inside the namespace (they may hold subuid-owned files).
   */
  removeLeftovers(): void {
    let names: string[];
    try {
      names = readdirSync(this.rootsDir);
    } catch {
      return;
    }
    for (const n of names) if (n.startsWith('.tmp-') || n.startsWith('.labels-')) rmSync(join(this.rootsDir, n), { recursive: true, force: true });
  }

  /** An empty directory, used as the lower dir when a layer has no base layers. */
  emptyDirRel(): string {
    mkdirSync(join(this.rootsDir, '.empty'), { recursive: true });
    return '.empty';
  }

  workArea(layer: string): { dir: string; upper: string; work: string; rootfs: string } {
    const dir = join(this.rootsDir, layer);
    return { dir, upper: join(dir, 'overlay'), work: join(dir, 'work'), rootfs: join(dir, 'rootfs') };
  }

  /** Recreates a layer's work area empty (a leftover of a killed build is discarded here). */
  freshWorkArea(layer: string): { dir: string; upper: string; work: string; rootfs: string } {
    const a = this.workArea(layer);
    rmSync(a.dir, { recursive: true, force: true });
    for (const d of [a.upper, a.work, a.rootfs]) mkdirSync(d, { recursive: true });
    return a;
  }
}
