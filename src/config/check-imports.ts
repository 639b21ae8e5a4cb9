import { lstat } from 'node:fs/promises';
import type { LayerSpec } from '../core/index.js';
import { ConfigCode } from './codes.js';
import type { Diagnostics } from './diagnostics.js';

/**
 * Local imports must exist (a dangling symlink counts as existing, as in stacker). Checked on
 * every load, cached spec or not: the files are not part of the stacker file's text.
 */
export async function checkImports(layers: Map<string, LayerSpec>, diag: Diagnostics): Promise<void> {
  const checks = [...layers.values()].flatMap((layer) =>
    layer.imports
      .filter((i) => i.kind === 'local')
      .map(async (i) => {
        const target = i.path.length > 1 ? i.path.replace(/\/+$/, '') : i.path;
        const exists = await lstat(target).then(
          () => true,
          () => false,
        );
        return { layer, i, exists };
      }),
  );
  for (const { layer, i, exists } of await Promise.all(checks)) {
    if (exists) continue;
    diag.error(ConfigCode.ImportMissing, `import '${i.rawPath}' of layer '${layer.name}' not found (looked for ${i.path})`, {
      location: i.location,
      hint: "paths are relative to the stacker.yaml's folder",
    });
  }
}
