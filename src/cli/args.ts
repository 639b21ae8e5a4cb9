import { parseArgs, type ParseArgsConfig } from 'node:util';
import { StackerError } from '../core/index.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags every command accepts (STACKER_REFERENCE §2). */
export const GLOBAL_OPTIONS: Options = {
  'work-dir': { type: 'string' },
  'stacker-dir': { type: 'string' },
  'oci-dir': { type: 'string' },
  'roots-dir': { type: 'string' },
  config: { type: 'string' },
  debug: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  'storage-type': { type: 'string' },
  progress: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
};

/** Flags shared by build-like commands. */
export const BUILD_OPTIONS: Options = {
  'stacker-file': { type: 'string', short: 'f' },
  'no-cache': { type: 'boolean' },
  substitute: { type: 'string', multiple: true },
  'substitute-file': { type: 'string' },
  'shell-fail': { type: 'boolean' },
  'on-run-failure': { type: 'string' },
  'layer-type': { type: 'string', multiple: true },
  'no-verity': { type: 'boolean' },
  'no-squashfs-verity': { type: 'boolean' },
  'require-hash': { type: 'boolean' },
  'order-only': { type: 'boolean' },
  'annotations-namespace': { type: 'string' },
  target: { type: 'string', multiple: true },
  jobs: { type: 'string', short: 'j' },
};

export type Values = Record<string, string | boolean | string[] | undefined>;

export function parse(argv: string[], options: Options): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    throw new StackerError('STACKER_E_USAGE', (e as Error).message, { hint: 'see `stacker --help`' });
  }
}

export const str = (v: Values, k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
export const bool = (v: Values, k: string): boolean => v[k] === true;
export const list = (v: Values, k: string): string[] => (Array.isArray(v[k]) ? (v[k] as string[]) : []);
