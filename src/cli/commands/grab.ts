import { StackerError } from '../../core/index.js';
import { grabFrom, withLayerRootfs } from '../../engine/layer-access.js';
import { inBuildNamespace } from '../../runtime/index.js';
import { reexecInNamespace } from '../../runtime/ns-process.js';
import { bool, parse } from '../args.js';
import { pathsFrom } from './common.js';

const USAGE = `stacker grab <layer>:<path>

   Copies a file or directory out of a built layer (build_only layers too) into the current directory.
`;

/** `stacker grab <layer>:<path>`: copies a file or directory out of a built layer into the CWD. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { 'stacker-file': { type: 'string', short: 'f' } });
  if (bool(values, 'help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const arg = positionals[0];
  const i = arg?.indexOf(':') ?? -1;
  if (arg === undefined || i <= 0 || i === arg.length - 1 || positionals.length > 1) {
    throw new StackerError('STACKER_E_USAGE', 'usage: stacker grab <layer>:<path>');
  }
  if (!inBuildNamespace()) return reexecInNamespace(process.argv.slice(1));
  const [layer, path] = [arg.slice(0, i), arg.slice(i + 1)];
  await withLayerRootfs(pathsFrom(values), layer, false, async (rootfs) => grabFrom(rootfs, layer, path, process.cwd()));
  return 0;
}
