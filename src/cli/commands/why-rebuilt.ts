import { StackerError } from '../../core/index.js';
import { whyRebuilt } from '../../engine/why-rebuilt.js';
import { renderWhy, whyJson } from '../../report/why-render.js';
import { bool, parse, str } from '../args.js';
import { loadOptionsFrom, pathsFrom } from './common.js';

const USAGE = `stacker why-rebuilt [layer...] [options]

   Before a build: which layers the next build would rebuild, and why (a dry run of the
   planner: no namespace, no process). When nothing would rebuild: why the last build that
   rebuilt something did. Every reason names the input and both values: an import's digest and
   the files inside it that changed, the run text as a unified diff, a directive
   (environment.FOO: "1" -> "2"), the base's digest, a rebuilt parent and its root cause,
   SOURCE_DATE_EPOCH, the format version or layer codec, binds, never built, --no-cache.

OPTIONS:
   --build N                  explain build N of \`stacker history\` (reads the index only)
   -f, --stacker-file FILE    the stacker file (default stacker.yaml)
   --substitute K=V           as for build (repeatable)
   --substitute-file FILE     as for build
   --json                     the same as data
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    'stacker-file': { type: 'string', short: 'f' },
    substitute: { type: 'string', multiple: true },
    'substitute-file': { type: 'string' },
    build: { type: 'string' },
  });
  if (bool(values, 'help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const buildArg = str(values, 'build');
  if (buildArg !== undefined && !/^\d+$/.test(buildArg)) {
    throw new StackerError('STACKER_E_USAGE', `--build ${buildArg}: expected a build number`, { hint: 'see `stacker history`' });
  }
  const paths = pathsFrom(values);
  const report = await whyRebuilt({
    paths,
    layers: positionals,
    ...(buildArg !== undefined ? { build: Number(buildArg) } : {}),
    sourceDateEpoch: process.env.SOURCE_DATE_EPOCH || undefined,
    load: loadOptionsFrom(values, paths),
  });
  process.stdout.write(bool(values, 'json') ? `${JSON.stringify(whyJson(report), null, 2)}\n` : renderWhy(report, positionals));
  return 0;
}
