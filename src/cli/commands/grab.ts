import { cpSync } from 'node:fs';
import { basename, join } from 'node:path';
import { StackerError } from '../../core/index.js';
import { withLayerRootfs } from '../../engine/layer-access.js';
import { inBuildNamespace, reexecInNamespace } from '../../runtime/index.js';
import { secureJoin } from '../../storage/index.js';
import { parse } from '../args.js';
import { pathsFrom } from './common.js';

/** `stacker grab <layer>:<path>`: copies a file or directory out of a built layer into the CWD. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { 'stacker-file': { type: 'string', short: 'f' } });
  const arg = positionals[0];
  const i = arg?.indexOf(':') ?? -1;
  if (arg === undefined || i <= 0) throw new StackerError('STACKER_E_USAGE', 'usage: stacker grab <layer>:<path>');
  if (!inBuildNamespace()) return reexecInNamespace(process.argv.slice(1));
  const [layer, path] = [arg.slice(0, i), arg.slice(i + 1)];
  await withLayerRootfs(pathsFrom(values), layer, false, async (rootfs) => {
    const src = secureJoin(rootfs, path);
    cpSync(src, join(process.cwd(), basename(path)), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  });
  return 0;
}
