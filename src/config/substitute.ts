import { ConfigCode } from './codes.js';
import type { Diagnostics } from './diagnostics.js';
import { SourceText } from './source-text.js';

/** One `KEY=VALUE` substitution, applied in list order. */
export interface Substitution {
  key: string;
  value: string;
  origin: 'flag' | 'file' | 'builtin';
}

/**
 * The substitution list in stacker's order: each `--substitute K=V` in order, then the keys of
 * `--substitute-file` not already given by a flag (in file order), then the built-ins not already
 * given. An entry without `=` (or with an empty key) is an error.
 */
export function collectSubstitutions(
  flags: readonly string[],
  fileEntries: readonly (readonly [string, string])[],
  builtins: Readonly<Record<string, string>>,
  diag: Diagnostics,
): Substitution[] {
  const out: Substitution[] = [];
  const seen = new Set<string>();
  for (const entry of flags) {
    const eq = entry.indexOf('=');
    if (eq <= 0) {
      diag.error(ConfigCode.SubstInvalid, `invalid substition ${entry}`, {
        hint: 'write --substitute KEY=VALUE',
      });
      continue;
    }
    const key = entry.slice(0, eq);
    out.push({ key, value: entry.slice(eq + 1), origin: 'flag' });
    seen.add(key);
  }
  for (const [key, value] of fileEntries) {
    if (seen.has(key)) continue;
    out.push({ key, value, origin: 'file' });
    seen.add(key);
  }
  for (const [key, value] of Object.entries(builtins)) {
    if (seen.has(key)) continue;
    out.push({ key, value, origin: 'builtin' });
    seen.add(key);
  }
  return out;
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Applies `${{KEY}}` / `${{KEY:default}}` substitutions to a file's raw text, as stacker does
 * before YAML parsing. Returns the substituted text, or undefined after reporting errors.
 *
 * Safety check (stacker's): for every provided key K, `$K`, `${K}` or `${K:...}` in the text is an
 * error, since the shell form would silently not receive the value. Unlike stacker, `$K` only
 * matches when K is not followed by another identifier character (`$AB` does not trip key `A`).
 * Built-in keys count as provided, as in stacker.
 *
 * Locations point into the text as it is when the problem is found (earlier substitutions
 * applied); lines only move if a substituted value contains a newline.
 */
export function substitute(src: SourceText, subs: readonly Substitution[], diag: Diagnostics): string | undefined {
  let content = src.text;
  let unsupported = 0;
  for (const { key, value, origin } of subs) {
    const k = escapeRe(key);
    const probe = new RegExp(`\\$${k}(?![A-Za-z0-9_])|\\$\\{${k}\\}|\\$\\{${k}:[^}\\n]*\\}?`, 'g');
    let at: SourceText | undefined;
    for (const m of content.matchAll(probe)) {
      at ??= new SourceText(src.display, content);
      const found = m[0];
      const replacement = found.startsWith(`\${${key}:`) ? `\${{${found.slice(2).replace(/\}?$/, '')}}}` : `\${{${key}}}`;
      unsupported++;
      diag.error(
        ConfigCode.SubstUnsupported,
        `"${key}=${value}" was provided as a substitution and unsupported placeholder "${found}" was found. ` +
          `Replace "${found}" with "${replacement}" to use the substitution.`,
        {
          location: at.location(m.index, m.index + found.length),
          hint:
            origin === 'builtin'
              ? `${key} is a built-in substitution, so "$${key}" cannot be used as a shell variable in a stacker file; write "\${{${key}}}"`
              : 'only ${{KEY}} placeholders are substituted; the shell form would not receive the value',
        },
      );
    }
    content = content.replace(new RegExp(`\\$\\{\\{${k}(:[^}]*)?\\}\\}`, 'g'), () => value);
  }
  if (unsupported > 0) {
    diag.error(
      ConfigCode.SubstUnsupported,
      `${unsupported} instances of unsupported placeholders found. Review log for how to update.`,
    );
    return undefined;
  }

  // What is left: `${{X:default}}` becomes `default`; `${{X}}` has no value. Like stacker, rescan
  // from the replacement's start, so a default is itself subject to this pass.
  const leftover = /\$\{\{([^}]*)\}\}/g;
  const missing: { index: number; length: number; name: string }[] = [];
  let pos = 0;
  for (;;) {
    leftover.lastIndex = pos;
    const m = leftover.exec(content);
    if (m === null) break;
    const inner = m[1] as string;
    const colon = inner.indexOf(':');
    if (colon === -1) {
      missing.push({ index: m.index, length: m[0].length, name: inner });
      pos = m.index + m[0].length;
      continue;
    }
    content = content.slice(0, m.index) + inner.slice(colon + 1) + content.slice(m.index + m[0].length);
    pos = m.index;
  }
  if (missing.length > 0) {
    const at = new SourceText(src.display, content);
    for (const { index, length, name } of missing) {
      diag.error(ConfigCode.SubstMissing, `no value for substitution ${name}`, {
        location: at.location(index, index + length),
        hint: `pass --substitute ${name}=VALUE, add ${name} to the --substitute-file, or write \${{${name}:default}}`,
      });
    }
    return undefined;
  }
  return content;
}
