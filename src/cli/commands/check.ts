import { preflight } from '../../runtime/index.js';
import { bool, parse } from '../args.js';
import { pathsFrom } from './common.js';

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, {});
  const results = await preflight(pathsFrom(values).rootsDir);
  if (bool(values, 'json')) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else {
    for (const r of results) {
      process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.detail}\n`);
      if (!r.ok && r.fix) process.stdout.write(`     fix: ${r.fix}\n`);
    }
  }
  return results.every((r) => r.ok) ? 0 : 1;
}
