import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildSpec } from '../core/index.js';
import { sha256Digest } from '../core/digest.js';
import type { PreviousFile } from './parse-changed.js';
import type { ParsedSpec } from './parse-spec.js';
import { UnencodableError, decodeExact, encodeExact } from './spec-codec.js';

/**
 * Loaded specs kept under the stacker dir, so that a build whose stacker files did not change
 * skips YAML parsing (and loading the parser). One file per way of loading (`identity`: the
 * resolved main file, CWD, substitutions, built-ins, defaults); it holds the spec, its warnings,
 * and the sha256 of the text of every file the load read: the main file, its prerequisites and
 * the substitute file. A lookup re-reads and re-hashes those files (they are small) and uses the
 * entry only if every one is unchanged and the entry was written by this very build of stacker.
 * Loads that read a file over http(s) are not cached.
 */
export interface CachedSpec {
  spec: BuildSpec;
  warnings: string[];
}

export interface Lookup {
  /** The cached spec, when every file it was loaded from is unchanged. */
  hit?: CachedSpec;
  /**
   * Otherwise, when the entry is of this stacker and its load warned of nothing: the last parse
   * of each of its files without anchors or aliases, by absolute path (parse-changed.ts).
   */
  previous?: Map<string, PreviousFile>;
}

interface Entry extends CachedSpec {
  format: number;
  code: string;
  /** sha256 of the identity. */
  identity: string;
  /** [absolute path, sha256 of its text] of every stacker file read, in reading order. */
  sources: [string, string][];
  /** [absolute path, sha256] of the substitute file, when one was given. */
  substitute: [string, string] | null;
  /** The files without anchors or aliases (ParsedSpec.plain). */
  plain: string[];
}

const FORMAT = 2;

export class SpecCache {
  private readonly file: string;
  private readonly identity: string;

  /** `identity`: everything besides the files' texts that the loaded spec depends on (JSON-able). */
  constructor(
    private readonly dir: string,
    identity: unknown,
    private readonly substituteFile: string | undefined,
  ) {
    this.identity = sha256Digest(JSON.stringify(identity));
    this.file = join(dir, `${this.identity.slice('sha256:'.length, 'sha256:'.length + 32)}.json`);
  }

  /** The cached spec when every file it was loaded from is unchanged; else what the last parse can still give. */
  lookup(): Lookup {
    const code = codeStamp();
    if (code === undefined) return {};
    let entry: Entry;
    try {
      entry = decodeExact(readFileSync(this.file, 'utf8')) as Entry;
    } catch {
      return {}; // absent, unreadable or torn: load as if there were no cache
    }
    if (entry.format !== FORMAT || entry.code !== code || entry.identity !== this.identity) return {};
    const files = entry.substitute === null ? entry.sources : [...entry.sources, entry.substitute];
    if (files.every(([path, digest]) => textDigest(path) === digest)) return { hit: { spec: entry.spec, warnings: entry.warnings } };
    if (entry.warnings.length > 0) return {};
    const previous = new Map<string, PreviousFile>();
    const layers = [...entry.spec.layers.values()];
    for (const f of entry.spec.files) {
      if (entry.plain.includes(f.path)) previous.set(f.path, { text: f.substitutedText, layers: layers.filter((l) => l.file === f.path) });
    }
    return { previous };
  }

  /** Records a load's result. Silently does nothing when it cannot be kept exactly or written. */
  store(parsed: ParsedSpec, warnings: string[]): void {
    const code = codeStamp();
    if (code === undefined || parsed.sources.some((s) => /^https?:\/\//i.test(s.path))) return;
    const entry: Entry = {
      format: FORMAT,
      code,
      identity: this.identity,
      sources: parsed.sources.map((s) => [s.path, sha256Digest(s.text)]),
      substitute: this.substituteFile === undefined || parsed.substituteText === undefined ? null : [this.substituteFile, sha256Digest(parsed.substituteText)],
      plain: parsed.plain,
      warnings,
      spec: parsed.spec,
    };
    let text: string;
    try {
      text = encodeExact(entry);
    } catch (e) {
      if (e instanceof UnencodableError) return;
      throw e;
    }
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(tmp, text);
      renameSync(tmp, this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === undefined) throw e;
      rmSync(tmp, { force: true }); // a read-only or full disk: the next load parses again
    }
  }
}

function textDigest(path: string): string | undefined {
  try {
    return sha256Digest(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

let stamp: string | undefined | null = null;

/**
 * Identifies the build of stacker that wrote an entry: size and mtime of the file holding this
 * module (tsc and the bundler rewrite every output on each build), so a changed parser never
 * reads specs an older one made.
 */
function codeStamp(): string | undefined {
  if (stamp === null) {
    try {
      const st = statSync(fileURLToPath(import.meta.url), { bigint: true });
      stamp = `${st.size}:${st.mtimeNs}`;
    } catch {
      stamp = undefined;
    }
  }
  return stamp;
}
