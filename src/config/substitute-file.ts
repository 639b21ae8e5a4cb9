import { isMap, parseDocument } from 'yaml';
import { ConfigCode } from './codes.js';
import type { Diagnostics } from './diagnostics.js';
import { YAML_OPTIONS } from './parse-file.js';
import { readSource } from './read-source.js';
import { SourceText } from './source-text.js';
import { entries, kindOf, loc, scalarText, type ParseContext } from './yaml-nodes.js';

/**
 * Reads `--substitute-file`: a YAML mapping `KEY: VALUE`, in file order. Values are taken as
 * written (`V: 0755` gives "0755"); a null value is the empty string. Also returns the text read
 * (undefined when it could not be read), which the spec cache keys on.
 */
export async function readSubstituteFile(file: string, shown: string, diag: Diagnostics): Promise<{ entries: [string, string][]; text?: string }> {
  const read = await readSource(file, `substitute file ${shown}`);
  if (!read.ok) {
    diag.error(ConfigCode.SubstFile, read.message, { hint: '--substitute-file is relative to the current directory' });
    return { entries: [] };
  }
  return { entries: parseSubstitutions(read.text, shown, diag), text: read.text };
}

function parseSubstitutions(text: string, shown: string, diag: Diagnostics): [string, string][] {
  const src = new SourceText(shown, text);
  const doc = parseDocument(text, YAML_OPTIONS);
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      diag.error(ConfigCode.SubstFile, `invalid YAML in substitute file: ${e.message.split('\n')[0]}`, {
        location: src.location(e.pos[0], e.pos[1]),
      });
    }
    return [];
  }
  const ctx: ParseContext = { doc, src, diag };
  const root = doc.contents;
  if (kindOf(root) === 'null') return [];
  const hint = 'a substitute file is a YAML mapping, e.g. VERSION: 1.2.3';
  if (!isMap(root)) {
    diag.error(ConfigCode.SubstFile, `substitute file ${shown} must be a mapping of KEY: VALUE, found ${kindOf(root)}`, {
      location: loc(ctx, root),
      hint,
    });
    return [];
  }
  const out: [string, string][] = [];
  for (const e of entries(ctx, root, `substitute file ${shown}`)) {
    if (e.name === undefined) {
      diag.error(ConfigCode.SubstFile, `keys of substitute file ${shown} must be strings, found ${kindOf(e.key)}`, { location: e.keyLoc, hint });
      continue;
    }
    if (kindOf(e.value) === 'null') {
      out.push([e.name, '']);
      continue;
    }
    const text = scalarText(e.value);
    if (text === undefined) {
      diag.error(ConfigCode.SubstFile, `value of '${e.name}' in substitute file ${shown} must be a string, found ${kindOf(e.value)}`, {
        location: loc(ctx, e.value, e.keyLoc),
        hint,
      });
      continue;
    }
    out.push([e.name, text]);
  }
  return out;
}
