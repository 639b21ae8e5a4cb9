/** One parsed `WWW-Authenticate` challenge. */
export interface AuthChallenge {
  /** Lower-case scheme: `bearer`, `basic`, ... */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses the first challenge of a `WWW-Authenticate` header (RFC 7235 auth-params, quoted strings
 * with backslash escapes), e.g. `Bearer realm="https://auth/token",service="reg",scope="a:b:pull"`.
 * Parsing stops at the first thing that is not `key=value` (such as a second challenge).
 */
export function parseChallenge(header: string | null | undefined): AuthChallenge | undefined {
  if (header === null || header === undefined) return undefined;
  const m = /^\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s*(.*)$/s.exec(header);
  if (m === null) return undefined;
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  const params: Record<string, string> = {};
  let i = 0;
  while (i < rest.length) {
    while (i < rest.length && (rest[i] === ',' || rest[i] === ' ' || rest[i] === '\t')) i++;
    const km = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*/.exec(rest.slice(i));
    if (km === null) break;
    const key = km[1]!.toLowerCase();
    i += km[0].length;
    let value = '';
    if (rest[i] === '"') {
      i++;
      while (i < rest.length && rest[i] !== '"') {
        if (rest[i] === '\\' && i + 1 < rest.length) i++;
        value += rest[i];
        i++;
      }
      i++; // closing quote
    } else {
      const vm = /^[^,\s]*/.exec(rest.slice(i))!;
      value = vm[0];
      i += value.length;
    }
    params[key] = value;
  }
  return { scheme, params };
}
