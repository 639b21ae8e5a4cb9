import { StackerError } from '../../core/index.js';
import { interactiveIn, withLayerRootfs } from '../../engine/layer-access.js';
import { inBuildNamespace, reexecInNamespace } from '../../runtime/index.js';
import { parse } from '../args.js';
import { pathsFrom } from './common.js';

/** `stacker chroot [layer] [cmd]`: a temporary writable container of a built layer. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { 'stacker-file': { type: 'string', short: 'f' } });
  const layer = positionals[0];
  if (layer === undefined) throw new StackerError('STACKER_E_USAGE', 'usage: stacker chroot <layer> [cmd]');
  if (!inBuildNamespace()) return reexecInNamespace(process.argv.slice(1));
  process.stderr.write('This chroot is temporary, any changes will be destroyed when it exits.\n');
  return withLayerRootfs(pathsFrom(values), layer, true, (rootfs) => interactiveIn(rootfs, [positionals[1] ?? '/bin/sh']));
}
