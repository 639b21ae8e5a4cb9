import { existsSync, rmSync } from 'node:fs';
import { inBuildNamespace } from '../../runtime/index.js';
import { reexecInNamespace } from '../../runtime/ns-process.js';
import { acquireLock } from '../../engine/lock.js';
import { bool, parse } from '../args.js';
import { pathsFrom } from './common.js';

/**
 * `stacker clean`: removes the roots dir, the OCI layout and the stacker dir (`--all` is accepted
 * and changes nothing, as in stacker). The roots dir holds files owned by subordinate ids, which
 * only the build namespace can remove, so when there is one this runs inside it.
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { all: { type: 'boolean' } });
  if (bool(values, 'help')) {
    process.stdout.write('stacker clean [--all]\n\n   Removes the roots dir, the OCI layout and the stacker dir.\n');
    return 0;
  }
  const paths = pathsFrom(values);
  if (!inBuildNamespace() && process.getuid?.() !== 0 && existsSync(paths.rootsDir)) return reexecInNamespace(process.argv.slice(1));
  const release = process.env.STACKER_LOCK_HELD_BY ? () => {} : await acquireLock(paths.stackerDir, { wait: false });
  try {
    rmSync(paths.rootsDir, { recursive: true, force: true, maxRetries: 3 });
    rmSync(paths.ociDir, { recursive: true, force: true, maxRetries: 3 });
  } finally {
    release();
  }
  rmSync(paths.stackerDir, { recursive: true, force: true, maxRetries: 3 });
  return 0;
}
