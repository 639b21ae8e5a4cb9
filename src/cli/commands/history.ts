import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { StackerError } from '../../core/index.js';
import { BuildIndex } from '../../cache/index.js';
import { listHistory } from '../../engine/why-history.js';
import { historyJson, renderHistory } from '../../report/why-render.js';
import { bool, parse, str } from '../args.js';
import { pathsFrom } from './common.js';

const USAGE = `stacker history [-n N] [--json]

   The builds recorded in the stacker dir, newest first: id, start time, outcome (success,
   failed, interrupted, killed, running), layers built / cached / failed / not run, duration
   and command. \`stacker why-rebuilt --build N\` explains one.

OPTIONS:
   -n, --limit N   show the N most recent builds (default 20)
   --json          the same as data
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { limit: { type: 'string', short: 'n' } });
  if (bool(values, 'help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const n = str(values, 'limit') ?? '20';
  if (!/^\d+$/.test(n) || Number(n) === 0) throw new StackerError('STACKER_E_USAGE', `-n ${n}: expected a positive number`);
  const { stackerDir } = pathsFrom(values);
  if (!existsSync(join(stackerDir, 'index.db'))) {
    process.stdout.write(bool(values, 'json') ? '[]\n' : renderHistory([]));
    return 0;
  }
  const index = BuildIndex.open(stackerDir);
  try {
    const builds = listHistory(index, Number(n));
    process.stdout.write(bool(values, 'json') ? `${JSON.stringify(builds.map(historyJson), null, 2)}\n` : renderHistory(builds));
  } finally {
    index.close();
  }
  return 0;
}
