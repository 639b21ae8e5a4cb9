import { resolve } from 'node:path';
import { readdirSync } from 'node:fs';
import { StackerError } from '../../core/index.js';
import { runBuild } from '../../engine/build.js';
import { BUILD_OPTIONS, bool, list, parse, str, type Values } from '../args.js';
import { pathsFrom, reporterFrom } from './common.js';

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

async function buildFile(v: Values, file: string, argv: string[]): Promise<number> {
  const paths = pathsFrom(v);
  return runBuild({
    paths,
    load: {
      file,
      cwd: paths.cwd,
      substitutions: list(v, 'substitute'),
      ...(str(v, 'substitute-file') ? { substituteFile: str(v, 'substitute-file')! } : {}),
      builtins: {
        STACKER_ROOTFS_DIR: paths.rootsDir,
        STACKER_STACKER_DIR: paths.stackerDir,
        STACKER_OCI_DIR: paths.ociDir,
        STACKER_WORK_DIR: str(v, 'work-dir') ? resolve(str(v, 'work-dir')!) : paths.cwd,
      },
      requireHash: bool(v, 'require-hash'),
    },
    noCache: bool(v, 'no-cache'),
    shellFail: bool(v, 'shell-fail') || str(v, 'on-run-failure') !== undefined,
    annotationsNamespace: str(v, 'annotations-namespace') ?? 'io.stackeroci',
    sourceDateEpoch: process.env.SOURCE_DATE_EPOCH || undefined,
    targets: list(v, 'target'),
    orderOnly: bool(v, 'order-only'),
    argv,
    events: reporterFrom(v),
  });
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, BUILD_OPTIONS);
  checkLayerTypes(values);
  return buildFile(values, str(values, 'stacker-file') ?? 'stacker.yaml', process.argv.slice(1));
}

/** `recursive-build`: every file matching the pattern under the search dir, in path order. */
export async function runRecursive(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...BUILD_OPTIONS, 'search-dir': { type: 'string', short: 'd' }, 'stacker-file-pattern': { type: 'string', short: 'p' } });
  checkLayerTypes(values);
  const dir = resolve(str(values, 'search-dir') ?? '.');
  const re = new RegExp(str(values, 'stacker-file-pattern') ?? '\\/stacker.yaml$');
  const files = (readdirSync(dir, { recursive: true, withFileTypes: false }) as string[])
    .map((f) => resolve(dir, f)).filter((f) => re.test(f)).sort();
  for (const f of files) {
    const code = await buildFile(values, f, process.argv.slice(1));
    if (code !== 0) return code;
  }
  return 0;
}
