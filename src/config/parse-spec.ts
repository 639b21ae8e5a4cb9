import { mark } from '../core/trace.js';
import path from 'node:path';
import type { BuildSpec, LayerSpec, SourceLocation, StackerFile } from '../core/index.js';
import { ConfigCode } from './codes.js';
import type { Diagnostics } from './diagnostics.js';
import type { ResolvedLoadOptions } from './load.js';
import { parseChangedFile, type PreviousFile } from './parse-changed.js';
import { parseStackerFile, type ParsedFile } from './parse-file.js';
import { displayPath, isHttpUrl, readSource } from './read-source.js';
import { SourceText } from './source-text.js';
import { readSubstituteFile } from './substitute-file.js';
import { collectSubstitutions, substitute, type Substitution } from './substitute.js';

interface Loaded {
  file: StackerFile;
  parsed: ParsedFile;
  display: string;
}

/** The stacker files read while loading, as read (before substitution): what a cached spec depends on. */
export interface SourceRecord {
  /** Absolute path, or the URL the file was downloaded from. */
  path: string;
  text: string;
}

export interface ParsedSpec {
  spec: BuildSpec;
  /** The main file and its prerequisites, in the order they were read. */
  sources: SourceRecord[];
  /** The text of `--substitute-file`, when given. */
  substituteText?: string;
  /** The files without anchors or aliases (ParsedFile.plain). */
  plain: string[];
}

/**
 * Reads a stacker file and, recursively, its `config.prerequisites` into one `BuildSpec`:
 * substitution, YAML parsing, validation, path absolutization and layer-name uniqueness. Problems
 * go to `diag` (after the substitutions, loading stops at the first failure: the files cannot be
 * read without them); the spec holds the files and layers that parsed.
 */
export async function parseBuildSpec(opts: ResolvedLoadOptions, diag: Diagnostics, previous?: Map<string, PreviousFile>): Promise<ParsedSpec> {
  const substitute =
    opts.substituteFile === undefined
      ? undefined
      : await readSubstituteFile(path.resolve(opts.cwd, opts.substituteFile), opts.substituteFile, diag);
  const subs = collectSubstitutions(opts.substitutions, substitute?.entries ?? [], opts.builtins, diag);
  diag.throwIfFailed();

  const loader = new Loader(opts, subs, diag, previous);
  const root = isHttpUrl(opts.file) ? opts.file : path.resolve(opts.cwd, opts.file);
  await loader.visit(root, []);
  const layers = checkDuplicates(loader.order, diag);
  return {
    spec: { files: loader.order.map((l) => l.file), layers },
    sources: loader.sources,
    plain: loader.order.filter((l) => l.parsed.plain).map((l) => l.file.path),
    ...(substitute?.text !== undefined ? { substituteText: substitute.text } : {}),
  };
}

class Loader {
  /** Files in load order: prerequisites before the files that require them. */
  readonly order: Loaded[] = [];
  readonly sources: SourceRecord[] = [];
  private readonly seen = new Set<string>();

  constructor(
    private readonly opts: ResolvedLoadOptions,
    private readonly subs: Substitution[],
    private readonly diag: Diagnostics,
    /** The last parse of files (spec-cache.ts): a file that changed is parsed by its changed entries when it can be. */
    private readonly previous?: Map<string, PreviousFile>,
  ) {}

  async visit(target: string, stack: string[], via?: { raw: string; location: SourceLocation }): Promise<void> {
    const { opts, diag } = this;
    const shown = displayPath(target, opts.cwd);
    const inStack = stack.indexOf(target);
    if (inStack !== -1) {
      const cycle = [...stack.slice(inStack), target].map((f) => displayPath(f, opts.cwd));
      diag.error(ConfigCode.PrereqCycle, `prerequisite cycle: ${cycle.join(' -> ')}`, {
        ...(via ? { location: via.location } : {}),
        hint: 'a stacker file cannot require itself, directly or through its prerequisites',
      });
      return;
    }
    if (this.seen.has(target)) return;
    this.seen.add(target);

    const read = await readSource(target, via ? `prerequisite '${via.raw}'` : `stacker file ${shown}`);
    if (!read.ok) {
      const hint = !read.notFound
        ? undefined
        : via
          ? `looked for ${target}; prerequisites are relative to the folder of the stacker file that lists them`
          : '-f selects the stacker file (default: stacker.yaml in the current directory)';
      diag.error(read.code, read.message, { ...(via ? { location: via.location } : {}), ...(hint ? { hint } : {}) });
      return;
    }
    this.sources.push({ path: target, text: read.text });
    const text = substitute(new SourceText(shown, read.text), this.subs, diag);
    if (text === undefined) return;
    const referenceDir = isHttpUrl(target) ? opts.cwd : path.dirname(target);
    const src = new SourceText(shown, text);
    const fileOpts = { file: target, referenceDir, requireHash: opts.requireHash ?? false, defaultOs: opts.defaultOs, defaultArch: opts.defaultArch };
    const prev = this.previous?.get(target);
    const byEntries = prev !== undefined ? parseChangedFile(src, fileOpts, prev) : undefined;
    const parsed = byEntries ?? parseStackerFile(src, fileOpts, diag);
    mark(byEntries !== undefined ? 'parsed by entries' : 'parsed');
    const prerequisites: string[] = [];
    const next: { abs: string; raw: string; location: SourceLocation }[] = [];
    for (const p of parsed.prerequisites) {
      const abs = resolvePrerequisite(p.raw, target, referenceDir);
      if (abs === undefined) {
        diag.error(ConfigCode.Config, `unsupported prerequisite '${p.raw}'`, {
          location: p.location,
          hint: 'a prerequisite is a path (relative to this file) or an http(s):// URL',
        });
        continue;
      }
      prerequisites.push(abs);
      next.push({ abs, raw: p.raw, location: p.location });
    }
    for (const n of next) await this.visit(n.abs, [...stack, target], n);
    const file: StackerFile = {
      path: target,
      referenceDir,
      substitutedText: text,
      prerequisites,
      layerNames: parsed.names.map((n) => n.name),
    };
    this.order.push({ file, parsed, display: shown });
  }
}

/**
 * Prerequisites are relative to the declaring file's folder. For a file read from a URL, a
 * relative prerequisite is resolved against that URL (stacker resolves it against the CWD).
 */
function resolvePrerequisite(raw: string, declaring: string, referenceDir: string): string | undefined {
  if (isHttpUrl(raw)) return raw;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(raw)) return undefined;
  if (path.isAbsolute(raw)) return path.normalize(raw);
  if (isHttpUrl(declaring)) return new URL(raw, declaring).href;
  return path.resolve(referenceDir, raw);
}

/** Layer names are global across the loaded files; builds the ordered layer map. */
function checkDuplicates(order: Loaded[], diag: Diagnostics): Map<string, LayerSpec> {
  const first = new Map<string, { display: string; location: SourceLocation }>();
  for (const { parsed, display } of order) {
    for (const { name, location } of parsed.names) {
      const prev = first.get(name);
      if (prev) {
        diag.error(ConfigCode.DuplicateLayer, `duplicate layer name: both ${prev.display} and ${display} have ${name}`, {
          location,
          hint: `first defined at ${prev.location.file}:${prev.location.line}:${prev.location.col}; layer names must be unique across a stacker file and its prerequisites`,
        });
      } else {
        first.set(name, { display, location });
      }
    }
  }
  const layers = new Map<string, LayerSpec>();
  for (const { parsed } of order) {
    for (const layer of parsed.layers) if (!layers.has(layer.name)) layers.set(layer.name, layer);
  }
  return layers;
}
