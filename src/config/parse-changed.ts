/**
 * Parsing an edited stacker file by its top-level entries: the entries whose text did not change
 * keep the layers their last parse made (moved to their new lines), and only the others are
 * parsed, each alone. Parsing is most of the cost of loading a file that changed (the YAML parser
 * runs cold in a new process), and an edit usually touches one layer.
 *
 * The result must be the one a parse of the whole file gives, or nothing (the caller then parses
 * the whole file). An entry parsed alone means what it means in the file when the file is a block
 * mapping whose keys all start at column 0 and nothing else does (`splitTopLevel`), the document
 * has no anchors or aliases (an alias may refer to another entry), and the entry's text parses
 * alone without an error: then nothing before it can change how it reads, and it ends where the
 * next key starts. The last parse's layers are taken only when they are exactly the last text's
 * entries, each with its key on its entry's first line. Anything else (a `config` entry, a
 * diagnostic of any kind) parses the whole file, so its messages are the usual ones.
 */
import { isMap, parseDocument, visit } from 'yaml';
import type { LayerSpec, SourceLocation } from '../core/index.js';
import { Diagnostics } from './diagnostics.js';
import { YAML_OPTIONS, parseRoot, tiesParts, type ParseFileOptions, type ParsedFile } from './parse-file.js';
import type { SourceText } from './source-text.js';

/** What the last successful parse of a file, without anchors or aliases, gave. */
export interface PreviousFile {
  /** Its substituted text. */
  text: string;
  /** Its layers, in file order. */
  layers: LayerSpec[];
}

/** One top-level entry of a file's text: [start, end) holds its key line and what follows up to the next key. */
export interface TopLevelEntry {
  key: string;
  start: number;
  end: number;
  /** 0-based line of the key. */
  line: number;
}

/** A plain key at column 0 followed by `:` and a space, a tab or the end of the line. */
const KEY_LINE = /^([A-Za-z0-9_][A-Za-z0-9_.-]*):(?:[ \t]|$)/;

/**
 * The text's top-level entries, when every line that starts at column 0 with something other than
 * a comment is a plain `key:` line (so no document markers, directives, flow collections,
 * compact sequences, quoted or complex keys, tabs or anything indented before the first key),
 * and the text has neither a byte order mark nor carriage returns. Undefined otherwise.
 */
export function splitTopLevel(text: string): TopLevelEntry[] | undefined {
  if (text.includes('\r') || text.charCodeAt(0) === 0xfeff) return undefined;
  const out: TopLevelEntry[] = [];
  let line = 0;
  for (let at = 0; at <= text.length; line++) {
    let nl = text.indexOf('\n', at);
    if (nl === -1) nl = text.length;
    const first = text.charCodeAt(at);
    if (at < nl && first !== 0x20 && first !== 0x23) {
      const m = KEY_LINE.exec(text.slice(at, nl));
      if (m === null) return undefined;
      if (out.length > 0) out[out.length - 1]!.end = at;
      out.push({ key: m[1]!, start: at, end: text.length, line });
    } else if (out.length === 0 && first === 0x20 && !/^\s*(#.*)?$/.test(text.slice(at, nl))) {
      return undefined;
    }
    at = nl + 1;
  }
  return out.length > 0 ? out : undefined;
}

/**
 * The file parsed from `prev` and its changed entries, exactly as `parseStackerFile` would parse
 * it, or undefined when that cannot be done (then parse it whole). Reports nothing: a result is
 * only given when there is nothing to report.
 */
export function parseChangedFile(src: SourceText, opts: ParseFileOptions, prev: PreviousFile): ParsedFile | undefined {
  const now = splitTopLevel(src.text);
  const before = splitTopLevel(prev.text);
  if (now === undefined || before === undefined || before.length !== prev.layers.length) return undefined;
  const kept = new Map<string, { layer: LayerSpec; line: number }>();
  for (const [i, e] of before.entries()) {
    const layer = prev.layers[i]!;
    if (layer.name !== e.key || layer.location.line !== e.line + 1) return undefined;
    kept.set(prev.text.slice(e.start, e.end), { layer, line: e.line });
  }
  const out: ParsedFile = { layers: [], names: [], prerequisites: [], plain: true };
  const diag = new Diagnostics();
  for (const e of now) {
    if (e.key === 'config') return undefined;
    const same = kept.get(src.text.slice(e.start, e.end));
    if (same !== undefined) {
      const layer = e.line === same.line ? same.layer : shifted(same.layer, e.line - same.line);
      out.names.push({ name: layer.name, location: layer.location });
      out.layers.push(layer);
      continue;
    }
    const part = src.part(e.start, e.end);
    const doc = parseDocument(part.text, YAML_OPTIONS);
    if (doc.errors.length > 0 || doc.warnings.length > 0 || !isMap(doc.contents) || doc.contents.items.length !== 1) return undefined;
    let plain = true;
    visit(doc, (_, node) => {
      if (tiesParts(node)) plain = false;
    });
    if (!plain) return undefined;
    parseRoot({ doc, src: part, diag }, doc.contents, opts, out);
    if (diag.errors.length > 0 || diag.warnings.length > 0) return undefined;
  }
  return out;
}

/** A copy of `v` with every source location in it moved by `delta` lines (its text did not change). */
function shifted<T>(v: T, delta: number): T {
  if (Array.isArray(v)) return v.map((x: unknown) => shifted(x, delta)) as T;
  if (v === null || typeof v !== 'object') return v;
  const o: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) o[k] = shifted(x, delta);
  if (isLocation(o)) o.line += delta;
  return o as T;
}

function isLocation(o: Record<string, unknown>): o is Record<string, unknown> & SourceLocation & { line: number } {
  return typeof o.line === 'number' && typeof o.col === 'number' && typeof o.file === 'string' && typeof o.sourceLine === 'string';
}
