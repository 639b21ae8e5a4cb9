import { isMap, isSeq, type Node } from 'yaml';
import type { ImportSpec, LayerSpec, SourceLocation } from '../core/index.js';
import { ConfigCode } from './codes.js';
import { LAYER_DIRECTIVES, isLayerDirective } from './directives.js';
import { parseBinds } from './parse-binds.js';
import { parseFrom } from './parse-from.js';
import { parseImports } from './parse-imports.js';
import { parseOverlayDirs } from './parse-overlay-dirs.js';
import {
  readBool,
  readString,
  readStringList,
  readStringMap,
  readStringOrList,
  typeError,
  type ValueSite,
} from './read-values.js';
import { shlexSplit } from './shlex.js';
import { suggestionHint } from './suggest.js';
import { entries, kindOf, loc, resolve, scalarText, type Entry, type ParseContext, type YNode } from './yaml-nodes.js';

export interface LayerInput {
  name: string;
  keyLoc: SourceLocation;
  value: YNode;
  /** Absolute path (or URL) of the defining file. */
  file: string;
  referenceDir: string;
  requireHash: boolean;
  defaultOs: string;
  defaultArch: string;
}

/** Parses one layer definition. Returns undefined when it has errors (all of them reported). */
export function parseLayer(ctx: ParseContext, input: LayerInput): LayerSpec | undefined {
  const { diag } = ctx;
  const { name, keyLoc, value } = input;
  const errorsBefore = diag.errors.length;
  if (!isMap(value)) {
    diag.error(ConfigCode.LayerNotMapping, `layer '${name}' must be a mapping of directives, found ${kindOf(value)}`, {
      location: kindOf(value) === 'null' ? keyLoc : loc(ctx, value, keyLoc),
      hint: `a layer looks like '${name}: {from: {type: docker, url: docker://alpine:3.19}, run: ...}'`,
    });
    return undefined;
  }
  const byName = new Map<string, Entry>();
  for (const e of entries(ctx, value, `layer '${name}'`)) {
    if (e.name !== undefined && isLayerDirective(e.name)) {
      byName.set(e.name, e);
      continue;
    }
    const key = e.name ?? String(e.key);
    diag.error(ConfigCode.UnknownDirective, `unknown directive '${key}' in layer '${name}'`, {
      location: e.keyLoc,
      hint: suggestionHint(key, LAYER_DIRECTIVES, 'directives'),
    });
  }
  const site = (what: string): ValueSite => ({ ctx, layer: name, what, at: byName.get(what)?.keyLoc ?? keyLoc });
  const val = (what: string): YNode => byName.get(what)?.value;

  const fromEntry = byName.get('from');
  const from = parseFrom(ctx, name, fromEntry?.value, fromEntry?.keyLoc ?? keyLoc);

  const importsIn = (directive: 'imports' | 'import'): ImportSpec[] =>
    parseImports(ctx, {
      layer: name,
      directive,
      node: val(directive),
      keyLoc: site(directive).at,
      referenceDir: input.referenceDir,
      requireHash: input.requireHash,
    });
  let imports = importsIn('imports');
  let legacyImport = false;
  const legacy = byName.get('import');
  if (legacy && byName.has('imports')) {
    diag.error(ConfigCode.ImportBoth, `layer '${name}' cannot have both 'import' and 'imports'`, {
      location: legacy.keyLoc,
      hint: "'import' is the deprecated form; move its entries into 'imports'",
    });
  } else if (legacy) {
    imports = importsIn('import');
    legacyImport = true;
    diag.warn(
      `'import' in layer '${name}' is deprecated; use 'imports' (files then appear under /stacker/imports instead of /stacker)`,
      legacy.keyLoc,
    );
  }

  const spec: Partial<LayerSpec> = {
    name,
    file: input.file,
    referenceDir: input.referenceDir,
    location: keyLoc,
    imports,
    legacyImport,
    run: readStringOrList(site('run'), val('run')),
    buildEnv: readStringMap(site('build_env'), val('build_env')),
    environment: readStringMap(site('environment'), val('environment')),
    volumes: readStringList(site('volumes'), val('volumes')),
    labels: readStringMap(site('labels'), val('labels')),
    generateLabels: readStringOrList(site('generate_labels'), val('generate_labels')),
    buildOnly: readBool(site('build_only'), val('build_only')),
    binds: parseBinds(site('binds'), val('binds'), input.referenceDir),
    annotations: readStringMap(site('annotations'), val('annotations')),
    os: platformValue(ctx, site('os'), byName.get('os'), input.defaultOs),
    arch: platformValue(ctx, site('arch'), byName.get('arch'), input.defaultArch),
    overlayDirs: parseOverlayDirs(site('overlay_dirs'), val('overlay_dirs'), input.referenceDir),
  };
  if (from) spec.from = from;
  const cmd = readCommand(site('cmd'), val('cmd'));
  if (cmd) spec.cmd = cmd;
  const entrypoint = readCommand(site('entrypoint'), val('entrypoint'));
  if (entrypoint) spec.entrypoint = entrypoint;
  const fullCommand = readCommand(site('full_command'), val('full_command'));
  if (fullCommand) spec.fullCommand = fullCommand;
  const passthrough = readPassthrough(site('build_env_passthrough'), val('build_env_passthrough'));
  if (passthrough) spec.buildEnvPassthrough = passthrough;
  const workingDir = readString(site('working_dir'), val('working_dir'));
  if (workingDir !== undefined) spec.workingDir = workingDir;
  const runtimeUser = readString(site('runtime_user'), val('runtime_user'));
  if (runtimeUser !== undefined) spec.runtimeUser = runtimeUser;
  const bom = byName.get('bom');
  if (bom) diag.warn(`'bom' in layer '${name}' is deprecated and ignored`, bom.keyLoc);

  if (diag.errors.length > errorsBefore) return undefined;
  return spec as LayerSpec;
}

/** `os` / `arch`: the host's value when absent; null or empty is an error (as stacker). */
function platformValue(ctx: ParseContext, site: ValueSite, entry: Entry | undefined, fallback: string): string {
  if (!entry) return fallback;
  const text = readString(site, entry.value);
  if (text === undefined && kindOf(entry.value) !== 'null') return fallback; // type error already reported
  if (text === undefined || text === '') {
    ctx.diag.error(ConfigCode.EmptyValue, `"${site.what}" value cannot be empty`, {
      location: entry.keyLoc,
      hint: `remove '${site.what}' to use the host's (${fallback}), or give a value`,
    });
    return fallback;
  }
  return text;
}

/** cmd / entrypoint / full_command: a string is split with POSIX shlex, a list is kept. */
function readCommand(site: ValueSite, node: YNode): string[] | undefined {
  if (kindOf(node) === 'null') return undefined;
  if (isSeq(node)) return readStringList(site, node);
  const text = scalarText(node);
  if (text === undefined) {
    typeError(site, 'a string or a list of strings', node);
    return undefined;
  }
  const split = shlexSplit(text);
  if (!split.ok) {
    site.ctx.diag.error(ConfigCode.Shlex, `cannot split '${site.what}' in layer '${site.layer}': ${split.reason}`, {
      location: loc(site.ctx, node, site.at),
      hint: 'close the quote, or give the command as a list of arguments',
    });
    return undefined;
  }
  return split.words;
}

/**
 * build_env_passthrough: a list of regexes (anchored as ^re$ when used). Each must compile; a
 * leading Go-style `(?flags)` group is allowed. Absent, null or empty gives undefined: stacker
 * uses its default list in all three cases.
 */
function readPassthrough(site: ValueSite, node: YNode): string[] | undefined {
  const list = readStringList(site, node);
  if (list.length === 0) return undefined;
  const items = isSeq(node) ? (node.items as Node[]) : [];
  if (items.length !== list.length) return list; // item errors already reported
  list.forEach((re, i) => {
    try {
      const flags = /^\(\?([imsU]+)\)/.exec(re);
      new RegExp(`^(?:${flags ? re.slice(flags[0].length) : re})$`, flags?.[1]?.includes('i') ? 'i' : '');
    } catch (e) {
      site.ctx.diag.error(
        ConfigCode.BadRegex,
        `item ${i + 1} of '${site.what}' in layer '${site.layer}' is not a valid regular expression: ${re}`,
        { location: loc(site.ctx, resolve(site.ctx, items[i]), site.at), hint: (e as Error).message },
      );
    }
  });
  return list;
}
