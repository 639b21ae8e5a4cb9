import { preflight, type CheckResult } from '../../runtime/index.js';
import { bool, parse } from '../args.js';
import { pathsFrom } from './common.js';

const SUBID = new Set(['/etc/subuid', '/etc/subgid']);
const OVERLAY = 'overlay (userxattr) in a user namespace';

/** The checks, with a roots dir the caller cannot write reported as a failure rather than a crash. */
async function checks(rootsDir: string): Promise<CheckResult[]> {
  try {
    const results = await preflight(rootsDir);
    // The overlay check maps the subordinate ranges: without them it fails for that reason alone.
    if (results.some((r) => SUBID.has(r.name) && !r.ok)) {
      for (const r of results) if (r.name === OVERLAY && !r.ok) r.fix = 'give the user a subuid/subgid range first (see above): this check runs in a user namespace that maps it';
    }
    return results;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw e;
    return [{ name: 'roots dir', ok: false, detail: `${rootsDir}: ${(e as Error).message}`, fix: 'run stacker where you can write, or pass --roots-dir (or --work-dir) pointing to a directory you own' }];
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, {});
  if (bool(values, 'help')) {
    process.stdout.write('stacker check\n\n   Checks what unprivileged builds need; each failure comes with its fix. Exit 1 on any failure.\n');
    return 0;
  }
  const results = await checks(pathsFrom(values).rootsDir);
  if (bool(values, 'json')) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else {
    for (const r of results) {
      process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.detail}\n`);
      if (!r.ok && r.fix) process.stdout.write(`     fix: ${r.fix}\n`);
    }
  }
  return results.every((r) => r.ok) ? 0 : 1;
}
