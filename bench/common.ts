/**
 * What the CLI benches share: where the repo and its `stacker` are, their common arguments
 * (`[runs]` and `--as USER`: run the CLI as that ordinary user with `runuser`, the rootless
 * path) and the median.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The command, run as a program as a user runs it (its launcher line runs: see bin/stacker.js). */
export const bin = join(repo, 'bin', 'stacker.js');
/**
 * `node -e 0` in this environment, and without NODE_EXTRA_CA_CERTS: Node parses that file when it
 * starts (~40 ms for Debian's bundle), which stacker's launcher defers; the second is Node itself.
 */
export const floorArgv = [process.execPath, '-e', '0'];
export const bareFloorArgv = ['env', '-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0'];

const args = process.argv.slice(2);
export const asUser: string | undefined = args.includes('--as') ? args[args.indexOf('--as') + 1] : undefined;
/** argv prefix that runs a command as `asUser` (none: as the caller). */
export const prefix: string[] = asUser !== undefined ? ['runuser', '-u', asUser, '--'] : [];

/** The first plain number among the arguments, or `fallback`. */
export function runsArg(fallback: number): number {
  return Number(args.find((a) => /^\d+$/.test(a)) ?? fallback);
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
