import { StackerError } from '../../core/index.js';
import { defaultLayer, interactiveIn, withLayerRootfs } from '../../engine/layer-access.js';
import { inBuildNamespace } from '../../runtime/index.js';
import { reexecInNamespace } from '../../runtime/ns-process.js';
import { bool, parse } from '../args.js';
import { loadOptionsFrom, pathsFrom } from './common.js';

const USAGE = `stacker chroot [layer] [cmd [args...]]   (alias: exec)

   Runs cmd (default /bin/sh) in a temporary writable copy of a built layer, with stdin attached.
   Changes are discarded when it exits. The layer defaults to the first one of -f (stacker.yaml).
   Put \`--\` before a command that has options: stacker chroot app -- ls -l /
`;

/** `stacker chroot [layer] [cmd]`: a temporary writable container of a built layer. */
export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, {
    'stacker-file': { type: 'string', short: 'f' },
    substitute: { type: 'string', multiple: true },
    'substitute-file': { type: 'string' },
  });
  if (bool(v, 'help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const paths = pathsFrom(v);
  const layer = positionals[0] ?? await defaultLayer(loadOptionsFrom(v, paths));
  if (layer === undefined) throw new StackerError('STACKER_E_USAGE', 'which layer? usage: stacker chroot <layer> [cmd]', { hint: 'or run it next to a stacker.yaml to use its first layer' });
  if (!inBuildNamespace()) return reexecInNamespace(process.argv.slice(1));
  process.stderr.write('This chroot is temporary, any changes will be destroyed when it exits.\n');
  const cmd = positionals.length > 1 ? positionals.slice(1) : ['/bin/sh'];
  return withLayerRootfs(paths, layer, true, (rootfs, runtime) => interactiveIn(rootfs, cmd, runtime));
}
