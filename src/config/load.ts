import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { BuildSpec, LayerSpec, SourceLocation, StackerFile } from '../core/index.js';
import { ConfigCode } from './codes.js';
import { Diagnostics } from './diagnostics.js';
import { parseStackerFile, type ParsedFile } from './parse-file.js';
import { ociArch } from './platform.js';
import { displayPath, isHttpUrl, readSource } from './read-source.js';
import { SourceText } from './source-text.js';
import { readSubstituteFile } from './substitute-file.js';
import { collectSubstitutions, substitute, type Substitution } from './substitute.js';

export interface LoadOptions {
  /** The `-f` value: a local path (relative to `cwd`) or an http(s) URL. */
  file: string;
  cwd: string;
  /** Each `--substitute K=V`, in order. */
  substitutions: string[];
  /** `--substitute-file` path (relative to `cwd`): a YAML map `K: V`. */
  substituteFile?: string;
  /** STACKER_ROOTFS_DIR, STACKER_STACKER_DIR, STACKER_OCI_DIR, STACKER_WORK_DIR (absolute). */
  builtins: Record<string, string>;
  /** `--require-hash`: every http(s) import must carry a `hash`. */
  requireHash?: boolean;
  /** Default `os` of layers (default 'linux'). */
  defaultOs?: string;
  /** Default `arch` of layers (default: the host's, in OCI naming). */
  defaultArch?: string;
}

export interface LoadResult {
  spec: BuildSpec;
  /** Rendered warnings (`file:line:col: text`): deprecated directives, ignored keys, ... */
  warnings: string[];
}

interface Loaded {
  file: StackerFile;
  parsed: ParsedFile;
  display: string;
}

/**
 * Loads a stacker file and, recursively, its `config.prerequisites` into one `BuildSpec`:
 * substitution, YAML parsing, validation, path absolutization, layer-name uniqueness and local
 * import existence. Every problem found is reported: one as a `StackerError`, several as
 * `StackerErrors`; each error of a file carries its location.
 */
export async function loadBuildSpec(opts: LoadOptions): Promise<LoadResult> {
  const diag = new Diagnostics();
  const fileEntries =
    opts.substituteFile === undefined
      ? []
      : await readSubstituteFile(path.resolve(opts.cwd, opts.substituteFile), opts.substituteFile, diag);
  const subs = collectSubstitutions(opts.substitutions, fileEntries, opts.builtins, diag);
  diag.throwIfFailed();

  const loader = new Loader(opts, subs, diag);
  const root = isHttpUrl(opts.file) ? opts.file : path.resolve(opts.cwd, opts.file);
  await loader.visit(root, []);
  const layers = checkDuplicates(loader.order, diag);
  await checkImports(layers, diag);
  diag.throwIfFailed();
  return { spec: { files: loader.order.map((l) => l.file), layers }, warnings: diag.warnings };
}

class Loader {
  /** Files in load order: prerequisites before the files that require them. */
  readonly order: Loaded[] = [];
  private readonly seen = new Set<string>();

  constructor(
    private readonly opts: LoadOptions,
    private readonly subs: Substitution[],
    private readonly diag: Diagnostics,
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
    const text = substitute(new SourceText(shown, read.text), this.subs, diag);
    if (text === undefined) return;
    const referenceDir = isHttpUrl(target) ? opts.cwd : path.dirname(target);
    const parsed = parseStackerFile(
      new SourceText(shown, text),
      {
        file: target,
        referenceDir,
        requireHash: opts.requireHash ?? false,
        defaultOs: opts.defaultOs ?? 'linux',
        defaultArch: opts.defaultArch ?? ociArch(),
      },
      diag,
    );
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

/** Local imports must exist (a dangling symlink counts as existing, as in stacker). */
async function checkImports(layers: Map<string, LayerSpec>, diag: Diagnostics): Promise<void> {
  const checks = [...layers.values()].flatMap((layer) =>
    layer.imports
      .filter((i) => i.kind === 'local')
      .map(async (i) => {
        const target = i.path.length > 1 ? i.path.replace(/\/+$/, '') : i.path;
        const exists = await lstat(target).then(
          () => true,
          () => false,
        );
        return { layer, i, exists };
      }),
  );
  for (const { layer, i, exists } of await Promise.all(checks)) {
    if (exists) continue;
    diag.error(ConfigCode.ImportMissing, `import '${i.rawPath}' of layer '${layer.name}' not found (looked for ${i.path})`, {
      location: i.location,
      hint: "paths are relative to the stacker.yaml's folder",
    });
  }
}
