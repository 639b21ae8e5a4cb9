import { rmSync } from 'node:fs';
import { inBuildNamespace, reexecInNamespace } from '../../runtime/index.js';
import { acquireLock } from '../../engine/lock.js';
import { parse } from '../args.js';
import { pathsFrom } from './common.js';

/**
 * `stacker clean`: removes the roots dir, the OCI layout and the stacker dir. The roots dir holds
 * files owned by subordinate ids, which only the build namespace can remove, so that part runs
 * inside it.
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { all: { type: 'boolean' } });
  const paths = pathsFrom(values);
  if (!inBuildNamespace() && process.getuid?.() !== 0) return reexecInNamespace(process.argv.slice(1));
  const release = process.env.STACKER_LOCK_HELD_BY ? () => {} : await acquireLock(paths.stackerDir, { wait: false });
  try {
    rmSync(paths.rootsDir, { recursive: true, force: true });
    rmSync(paths.ociDir, { recursive: true, force: true });
  } finally {
    release();
  }
  rmSync(paths.stackerDir, { recursive: true, force: true });
  return 0;
}
