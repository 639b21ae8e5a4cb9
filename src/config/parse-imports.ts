import path from 'node:path';
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import type { ImportSpec, SourceLocation } from '../core/index.js';
import { ConfigCode } from './codes.js';
import { IMPORT_KEYS } from './directives.js';
import { entries, kindOf, loc, resolve, scalarText, type ParseContext, type YNode } from './yaml-nodes.js';

export interface ImportsInput {
  layer: string;
  /** `imports`, or the deprecated `import`. */
  directive: 'imports' | 'import';
  node: YNode;
  keyLoc: SourceLocation;
  referenceDir: string;
  requireHash: boolean;
}

const SHAPE_HINT = "list the imports, e.g. imports: [config.json, {path: install.sh, dest: /usr/local/bin/}]";

/**
 * Reads `imports` (or legacy `import`): a single string, or a list of strings and mappings with
 * `path` (required), `hash`, `dest`, `mode`, `uid`, `gid` (stacker's `getImportFromInterface`).
 * A null value, and null optional fields, mean "not given". Local paths are made absolute against
 * the file's folder (a trailing `/` is kept: it selects a directory's contents).
 */
export function parseImports(ctx: ParseContext, input: ImportsInput): ImportSpec[] {
  const { node, directive } = input;
  if (kindOf(node) === 'null') return [];
  // List items point at themselves, even when empty (`-` alone); the directive is the fallback.
  const shape = (message: string, at: YNode): void =>
    ctx.diag.error(ConfigCode.ImportsShape, message, { location: loc(ctx, at, at ? undefined : input.keyLoc), hint: SHAPE_HINT });
  if (isMap(node)) {
    shape(`'${directive}' expected an array, found a mapping`, node);
    return [];
  }
  const items: Node[] = isSeq(node) ? (node.items as Node[]) : [node as Node];
  const out: ImportSpec[] = [];
  for (const raw of items) {
    const item = resolve(ctx, raw);
    const spec = isMap(item) ? fromMapping(ctx, input, item) : fromString(ctx, input, item ?? raw, shape);
    if (spec) out.push(spec);
  }
  return out;
}

function fromString(ctx: ParseContext, input: ImportsInput, item: YNode, shape: (m: string, at: YNode) => void): ImportSpec | undefined {
  const text = scalarText(item);
  if (text === undefined) {
    shape(`could not read ${input.directive} entry: expected a path or a mapping, found ${kindOf(item)}`, item);
    return undefined;
  }
  return finish(ctx, input, { rawPath: text, location: loc(ctx, item, input.keyLoc) }, item);
}

interface Fields {
  rawPath: string;
  location: SourceLocation;
  hash?: string;
  dest?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Where `hash` and `dest` were written, for pointed errors. */
  at?: { hash?: SourceLocation; dest?: SourceLocation };
}

function fromMapping(ctx: ParseContext, input: ImportsInput, item: Node): ImportSpec | undefined {
  const { diag } = ctx;
  const location = loc(ctx, item, input.keyLoc);
  const fields: Partial<Fields> = { location };
  let ok = true;
  let sawPath = false;
  const fail = (code: string, message: string, at: SourceLocation, hint?: string): void => {
    diag.error(code, message, { location: at, ...(hint ? { hint } : {}) });
    ok = false;
  };
  for (const e of entries(ctx, item, `import of layer '${input.layer}'`)) {
    if (kindOf(e.key) !== 'a string' || e.name === undefined) {
      fail(ConfigCode.ImportsShape, `key '${e.name ?? String(e.key)}' in import is not a string`, e.keyLoc);
      continue;
    }
    const valueLoc = loc(ctx, e.value, e.keyLoc);
    if (e.name === 'path') sawPath = true;
    if (kindOf(e.value) === 'null') continue;
    switch (e.name) {
      case 'path':
      case 'hash':
      case 'dest': {
        const text = scalarText(e.value);
        if (text === undefined) fail(ConfigCode.ImportField, `value for '${e.name}' in import is not a string`, valueLoc);
        else if (e.name === 'path') fields.rawPath = text;
        else {
          fields[e.name] = text;
          fields.at = { ...fields.at, [e.name]: valueLoc };
        }
        break;
      }
      case 'mode':
      case 'uid':
      case 'gid': {
        const v = isScalar(e.value) ? e.value.value : undefined;
        if (kindOf(e.value) !== 'an integer') {
          fail(
            ConfigCode.ImportField,
            `value for '${e.name}' in import is not an integer`,
            valueLoc,
            e.name === 'mode' ? 'write the mode as an unquoted octal number, e.g. mode: 0644' : undefined,
          );
          break;
        }
        const n = Number(v);
        if (e.name === 'mode') {
          if (n < 0 || n > 0o7777) {
            fail(ConfigCode.ImportField, `'mode' (${n}) is not a valid file mode`, valueLoc, 'expected an octal mode between 0000 and 07777, e.g. 0644');
            break;
          }
          const written = scalarText(e.value) ?? '';
          if (/^[1-7][0-7]{2,3}$/.test(written)) {
            diag.warn(`import mode ${written} is a decimal number (octal 0${n.toString(8)}); write 0${written} for the octal mode`, valueLoc);
          }
          fields.mode = n;
        } else if (n < 0) {
          fail(ConfigCode.ImportField, `'${e.name}' (${n}) cannot be negative`, valueLoc);
        } else {
          fields[e.name] = n;
        }
        break;
      }
      default:
        diag.warn(
          `unknown key '${e.name}' in import of layer '${input.layer}' is ignored (valid keys: ${IMPORT_KEYS.join(', ')})`,
          e.keyLoc,
        );
    }
  }
  if ((fields.rawPath === undefined || fields.rawPath === '') && (ok || !sawPath)) {
    fail(ConfigCode.ImportsShape, "No 'path' entry found in import", location, 'each import mapping needs a path, e.g. {path: file.tar, dest: /opt/}');
  }
  if (!ok) return undefined;
  return finish(ctx, input, fields as Fields, item);
}

const HASH_RE = /^[0-9a-f]{64}$/;
const SCHEME_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;

/** Validates the common fields and classifies the path (local, http, stacker). */
function finish(ctx: ParseContext, input: ImportsInput, f: Fields, node: YNode): ImportSpec | undefined {
  const { diag } = ctx;
  const at = loc(ctx, node, input.keyLoc);
  let ok = true;
  const spec: ImportSpec = { rawPath: f.rawPath, path: f.rawPath, kind: 'local', location: f.location };
  const raw = f.rawPath;
  const scheme = SCHEME_RE.exec(raw)?.[1]?.toLowerCase();
  if (scheme === 'stacker') {
    const rest = raw.slice('stacker://'.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) {
      diag.error(ConfigCode.ImportUrl, `invalid stacker:// import '${raw}': expected stacker://<layer>/<path>`, { location: at });
      ok = false;
    } else {
      spec.kind = 'stacker';
      spec.stackerLayer = rest.slice(0, slash);
      spec.stackerPath = rest.slice(slash);
    }
  } else if (scheme === 'http' || scheme === 'https') {
    spec.kind = 'http';
    if (!URL.canParse(raw)) {
      diag.error(ConfigCode.ImportUrl, `invalid URL '${raw}' in import`, { location: at });
      ok = false;
    }
  } else if (scheme === 'file') {
    spec.path = URL.canParse(raw) ? decodeURIComponent(new URL(raw).pathname) : raw.slice('file://'.length);
  } else if (scheme !== undefined) {
    diag.error(ConfigCode.ImportUrl, `unsupported import scheme '${scheme}' in '${raw}'`, {
      location: at,
      hint: 'imports can be local paths, http:// or https:// URLs, or stacker://<layer>/<path>',
    });
    ok = false;
  } else {
    spec.path = path.isAbsolute(raw) ? path.normalize(raw) : path.join(input.referenceDir, raw);
  }

  if (f.hash !== undefined) {
    const hex = f.hash.replace(/^sha256:/i, '').toLowerCase();
    if (!HASH_RE.test(hex)) {
      diag.error(ConfigCode.BadHash, `Given hash ${f.hash} is not valid`, {
        location: f.at?.hash ?? at,
        hint: "a hash is the file's sha256: 64 hexadecimal characters, optionally prefixed with 'sha256:'",
      });
      ok = false;
    } else {
      spec.hash = hex;
    }
  }
  if (f.dest !== undefined) {
    if (!f.dest.startsWith('/')) {
      diag.error(ConfigCode.ImportField, "'dest' path cannot be relative", {
        location: f.at?.dest ?? at,
        hint: 'dest is a path inside the image, e.g. dest: /usr/local/bin/',
      });
      ok = false;
    } else {
      spec.dest = f.dest;
    }
  }
  if (f.mode !== undefined) spec.mode = f.mode;
  if (f.uid !== undefined) spec.uid = f.uid;
  if (f.gid !== undefined) spec.gid = f.gid;
  if (input.requireHash && spec.kind === 'http' && spec.hash === undefined) {
    diag.error(ConfigCode.HashRequired, `Remote import needs a hash in yaml for path: ${raw}`, {
      location: at,
      hint: 'add hash: <sha256 of the file> to the import, or build without --require-hash',
    });
    ok = false;
  }
  return ok ? spec : undefined;
}
