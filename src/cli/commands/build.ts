import { join, resolve } from 'node:path';
import { readdirSync } from 'node:fs';
import { StackerError } from '../../core/index.js';
import { runBuild, type BuildOptions } from '../../engine/build.js';
import { BUILD_OPTIONS, bool, list, parse, str, type Values } from '../args.js';
import { loadOptionsFrom, pathsFrom, reporterFrom } from './common.js';

function checkLayerTypes(v: Values): void {
  for (const t of list(v, 'layer-type')) {
    if (t !== 'tar') {
      throw new StackerError('STACKER_E_LAYER_TYPE', t === 'squashfs' || t === 'erofs' ? `layer type ${t} is not supported yet` : `unknown layer type: ${t}`, {
        hint: 'this stacker writes tar+gzip layers (--layer-type tar)',
      });
    }
  }
  if (bool(v, 'shell-fail') && str(v, 'on-run-failure') !== undefined && str(v, 'on-run-failure') !== '/bin/sh') {
    throw new StackerError('STACKER_E_USAGE', '--shell-fail conflicts with --on-run-failure');
  }
}

function parseJobs(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new StackerError('STACKER_E_USAGE', `--jobs ${s}: not a positive whole number`, { hint: 'e.g. --jobs 4; the default is the number of cores' });
  return n;
}

async function buildFile(v: Values, file: string, argv: string[], replaceProcess: boolean): Promise<number> {
  const paths = pathsFrom(v);
  const noopStamp = stampOptions(v, replaceProcess);
  return runBuild({
    paths,
    load: loadOptionsFrom(v, paths, file),
    noCache: bool(v, 'no-cache'),
    shellFail: bool(v, 'shell-fail') || str(v, 'on-run-failure') !== undefined,
    annotationsNamespace: str(v, 'annotations-namespace') ?? 'io.stackeroci',
    sourceDateEpoch: process.env.SOURCE_DATE_EPOCH || undefined,
    targets: list(v, 'target'),
    ...(str(v, 'jobs') !== undefined ? { jobs: parseJobs(str(v, 'jobs')!) } : {}),
    orderOnly: bool(v, 'order-only'),
    argv,
    replaceProcess,
    events: reporterFrom(v),
    ...(noopStamp !== undefined ? { noopStamp } : {}),
  });
}

/**
 * The no-op stamp's options, when bin/stacker.js asked for one (it names the file) and the
 * output of a no-op is plain lines: not --json, --debug, --no-cache or --order-only, and `build`
 * of one file (recursive-build starts each file's build itself).
 */
function stampOptions(v: Values, replaceProcess: boolean): BuildOptions['noopStamp'] {
  if (!replaceProcess || bool(v, 'json') || bool(v, 'debug') || bool(v, 'no-cache') || bool(v, 'order-only')) return undefined;
  let asked: { file?: unknown; who?: unknown; tool?: unknown };
  try {
    asked = JSON.parse(process.env.STACKER_NOOP_STAMP ?? '') as typeof asked;
  } catch {
    return undefined;
  }
  const { file, who, tool } = asked;
  if (typeof file !== 'string' || typeof who !== 'string' || typeof tool !== 'string') return undefined;
  return { file, who, tool, quiet: bool(v, 'quiet'), toolVersion: '0.1.0' };
}

const BUILD_HELP = `stacker build [options]

   Build the layers of a stacker.yaml into the OCI layout.

OPTIONS:
   -f, --stacker-file FILE    the stacker file (default stacker.yaml)
   --substitute K=V           a substitution for \${{K}} (repeatable)
   --substitute-file FILE     substitutions from a YAML map
   --no-cache                 rebuild every layer (downloaded bases are kept)
   --target LAYER             build only LAYER and its ancestors (repeatable)
   -j, --jobs N               layers built at once (default: the number of cores)
   --shell-fail               open a shell in the container of a failed step
   --require-hash             require a hash on every http(s) import
   --annotations-namespace NS namespace of stacker's manifest annotations (default io.stackeroci)
   --order-only               print the order the files would build in, and stop
   --layer-type tar           the layer type (only tar)
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, BUILD_OPTIONS);
  if (bool(values, 'help')) {
    process.stdout.write(BUILD_HELP);
    return 0;
  }
  checkLayerTypes(values);
  return buildFile(values, str(values, 'stacker-file') ?? 'stacker.yaml', process.argv.slice(1), true);
}

/**
 * Files under `dir` whose path matches `re`; symlinks are not followed, stacker's own state
 * dirs are skipped, and unreadable directories (a build's roots hold some) are passed over.
 */
function findFiles(dir: string, re: RegExp, skip: Set<string>): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory() && !skip.has(p)) out.push(...findFiles(p, re, skip));
    else if (e.isFile() && re.test(p)) out.push(p);
  }
  return out;
}

/** argv without the given options (and their values), for re-running one file as `build`. */
export function withoutOptions(argv: string[], names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (names.includes(a)) {
      i++;
      continue;
    }
    if (names.some((n) => n.startsWith('--') && a.startsWith(`${n}=`))) continue;
    out.push(a);
  }
  return out;
}

/**
 * `recursive-build`: every file matching the pattern under the search dir, in path order. Each
 * file that must build re-enters the namespace as `build -f <file>`, so the namespaced process
 * builds that file (with the plan made for it) and nothing else.
 */
export async function runRecursive(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...BUILD_OPTIONS, 'search-dir': { type: 'string', short: 'd' }, 'stacker-file-pattern': { type: 'string', short: 'p' } });
  if (bool(values, 'help')) {
    process.stdout.write(`stacker recursive-build [-d DIR] [-p REGEX] [build options]\n\n   Build every file under DIR (default .) whose path matches REGEX (default \\/stacker.yaml$).\n\n${BUILD_HELP.split('\n').slice(4).join('\n')}`);
    return 0;
  }
  checkLayerTypes(values);
  const dir = resolve(str(values, 'search-dir') ?? '.');
  const re = new RegExp(str(values, 'stacker-file-pattern') ?? '\\/stacker.yaml$');
  const paths = pathsFrom(values);
  const files = findFiles(dir, re, new Set([paths.stackerDir, paths.rootsDir, paths.ociDir])).sort();
  const common = withoutOptions(argv, ['-d', '--search-dir', '-p', '--stacker-file-pattern', '-f', '--stacker-file']);
  for (const f of files) {
    const code = await buildFile(values, f, [process.argv[1]!, 'build', ...common, '-f', f], false);
    if (code !== 0) return code;
  }
  return 0;
}
