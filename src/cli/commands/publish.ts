import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { StackerError } from '../../core/index.js';
import { runPublish } from '../../engine/publish.js';
import { bool, list, parse, str, type Values } from '../args.js';
import { loadOptionsFrom, pathsFrom, reporterFrom } from './common.js';

const USAGE = `stacker publish --url docker://host[:port]/path|oci:<layout> --tag TAG [--tag TAG...] [options]

   -f, --stacker-file FILE         the stacker file (default stacker.yaml)
   -d, --search-dir DIR            publish every file matching -p under DIR instead
   -p, --stacker-file-pattern RE   default \\/stacker.yaml$
   --url URL                       docker://… → <url>/<layer>:<tag>; oci:<dir> → <dir>:<layer>_<tag>
   --tag TAG                       repeatable, at least one
   --username U --password P       registry credentials (both or neither)
   --skip-tls                      talk plain http to the registry
   --image NAME                    only these layers (repeatable)
   --show-only                     print what would be published
   --force                         publish even if a layer would be rebuilt
   --substitute K=V, --substitute-file F   as for build
`;

const OPTIONS = {
  'stacker-file': { type: 'string', short: 'f' },
  'search-dir': { type: 'string', short: 'd' },
  'stacker-file-pattern': { type: 'string', short: 'p' },
  url: { type: 'string' },
  tag: { type: 'string', multiple: true },
  username: { type: 'string' },
  password: { type: 'string' },
  'skip-tls': { type: 'boolean' },
  'layer-type': { type: 'string', multiple: true },
  image: { type: 'string', multiple: true },
  'show-only': { type: 'boolean' },
  force: { type: 'boolean' },
  substitute: { type: 'string', multiple: true },
  'substitute-file': { type: 'string' },
} as const;

function stackerFiles(v: Values): string[] {
  if (str(v, 'search-dir') === undefined && str(v, 'stacker-file-pattern') === undefined) return [str(v, 'stacker-file') ?? 'stacker.yaml'];
  if (str(v, 'stacker-file') !== undefined) throw new StackerError('STACKER_E_USAGE', '-f cannot be combined with -d/-p');
  const dir = resolve(str(v, 'search-dir') ?? '.');
  const re = new RegExp(str(v, 'stacker-file-pattern') ?? '\\/stacker.yaml$');
  const files = (readdirSync(dir, { recursive: true }) as string[]).map((f) => resolve(dir, f)).filter((f) => re.test(f)).sort();
  if (files.length === 0) throw new StackerError('STACKER_E_USAGE', `no file matching ${re.source} under ${dir}`);
  return files;
}

/** `stacker publish`: copies built images to a registry or another OCI layout. No namespace needed. */
export async function run(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, OPTIONS);
  if (bool(v, 'help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const url = str(v, 'url');
  if (url === undefined) throw new StackerError('STACKER_E_USAGE', 'publish needs --url', { hint: USAGE.split('\n')[0] });
  for (const t of list(v, 'layer-type')) {
    if (t !== 'tar') throw new StackerError('STACKER_E_LAYER_TYPE', `unknown layer type: ${t}`, { hint: 'this stacker writes tar+gzip layers (--layer-type tar)' });
  }
  const [username, password] = [str(v, 'username'), str(v, 'password')];
  if ((username === undefined) !== (password === undefined)) {
    throw new StackerError('STACKER_E_USAGE', '--username and --password must be given together');
  }
  const paths = pathsFrom(v);
  return runPublish({
    paths,
    files: stackerFiles(v).map((f) => loadOptionsFrom(v, paths, f)),
    url,
    tags: list(v, 'tag'),
    ...(username !== undefined && password !== undefined ? { credentials: { username, password } } : {}),
    insecure: bool(v, 'skip-tls'),
    images: list(v, 'image'),
    showOnly: bool(v, 'show-only'),
    force: bool(v, 'force'),
    sourceDateEpoch: process.env.SOURCE_DATE_EPOCH || undefined,
    events: reporterFrom(v),
  });
}
