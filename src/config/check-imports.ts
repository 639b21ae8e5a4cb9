import { lstatSync } from 'node:fs';
import type { LayerSpec } from '../core/index.js';
import { ConfigCode } from './codes.js';
import type { Diagnostics } from './diagnostics.js';

/**
 * Local imports must exist (a dangling symlink counts as existing, as in stacker). Checked on
 * every load, cached spec or not: the files are not part of the stacker file's text. One lstat
 * each, synchronous: a few microseconds, where a round trip through libuv's threadpool costs more.
 */
export function checkImports(layers: Map<string, LayerSpec>, diag: Diagnostics): void {
  for (const layer of layers.values()) {
    for (const i of layer.imports) {
      if (i.kind !== 'local') continue;
      const target = i.path.length > 1 ? i.path.replace(/\/+$/, '') : i.path;
      if (exists(target)) continue;
      diag.error(ConfigCode.ImportMissing, `import '${i.rawPath}' of layer '${layer.name}' not found (looked for ${i.path})`, {
        location: i.location,
        hint: "paths are relative to the stacker.yaml's folder",
      });
    }
  }
}

function exists(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false; // ENOTDIR, EACCES...: as the asynchronous check did, not found
  }
}
