import { shortDigest } from '../core/digest.js';
import type { BaseInput } from './input-document.js';

/**
 * The reasons a layer (re)builds, as data (stored per build in `build_nodes.reason_json`), and
 * their one-line form (what `build` prints). Light on purpose: `why-rebuilt --build N` and
 * `history` load this, not the explaining code (why.ts).
 */

/** One file of an import's tree that differs (`path` joined to the import path). */
export interface FileChange {
  path: string;
  change: 'added' | 'removed' | 'modified';
  /** For 'modified': each field that differs, with both values as text. */
  fields: { field: string; before: string; after: string }[];
}

export interface RootCause {
  /** The nearest ancestor (or the parent itself) whose own inputs changed. */
  layer: string;
  /** Its own reasons (no parent reasons). */
  reasons: Reason[];
}

export type Reason =
  | { kind: 'no-cache' }
  | { kind: 'binds'; binds: { source: string; dest: string }[] }
  | { kind: 'never-built' }
  | { kind: 'format'; before: number; after: number }
  | { kind: 'codec'; before: string; after: string }
  /** A parent's key changed; `before`/`after` null: the parent was added / removed. */
  | { kind: 'parent'; parent: string; before: string | null; after: string | null; rootCauses: RootCause[] }
  | { kind: 'base'; before: BaseInput; after: BaseInput }
  | {
      kind: 'import' | 'overlay-dir';
      path: string;
      dest: string | null;
      change: 'content' | 'added' | 'removed' | 'placement';
      /** Content digests (null when absent on that side). */
      before: string | null;
      after: string | null;
      /** For 'placement': dest/mode/uid/gid changes. */
      fields?: { field: string; before: string; after: string }[];
      /** For 'content': the files that changed, when both listings are in the index. */
      files?: FileChange[];
      /** How many more changed files were left out of `files`. */
      moreFiles?: number;
      /** True when a listing is missing, so the changed files cannot be named. */
      filesUnknown?: boolean;
    }
  | { kind: 'run'; diff: string[] }
  /** An image-config or build directive, named as in stacker.yaml (`environment.FOO`). Absent side: no property. */
  | { kind: 'directive'; path: string; before?: unknown; after?: unknown }
  | { kind: 'source-date-epoch'; before: string | null; after: string | null }
  /** The earlier document is not in the index: the inputs differ, but which cannot be said. */
  | { kind: 'inputs' };

// ---- one line, as `build` prints it ----

/** A short digest for one-line reasons: 12 hex characters. */
const short = (d: string | null): string => (d === null ? '(none)' : shortDigest(d));

function clip(v: unknown): string {
  if (v === undefined) return '(unset)';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
}

/** The base as a person names it: the reference, the tar URL, or the parent. */
export function baseName(b: BaseInput): string {
  switch (b.type) {
    case 'docker':
    case 'oci':
      return b.ref;
    case 'tar':
      return `tar ${b.url}`;
    case 'built':
      return `built ${b.parent}`;
    case 'scratch':
      return 'scratch';
  }
}

/** The identity of a base that can change under the same name (manifest or tar digest). */
export function baseDigest(b: BaseInput): string | undefined {
  return b.type === 'docker' || b.type === 'oci' ? b.manifest : b.type === 'tar' ? b.digest : undefined;
}

/** One line for a reason: what `build` prints after `building <layer>: `. */
export function oneLine(r: Reason): string {
  switch (r.kind) {
    case 'no-cache':
      return '--no-cache';
    case 'binds':
      return 'rebuilding cached layer due to use of binds in stacker file';
    case 'never-built':
      return 'never built';
    case 'format':
      return `stacker's format version changed (${r.before} -> ${r.after})`;
    case 'codec':
      return 'layer codec changed';
    case 'parent':
      if (r.before === null) return `new parent ${r.parent}`;
      if (r.after === null) return `parent ${r.parent} removed`;
      return `parent ${r.parent} was rebuilt`;
    case 'base': {
      const a = baseName(r.before);
      const b = baseName(r.after);
      const da = baseDigest(r.before);
      const db = baseDigest(r.after);
      if (a === b && da !== undefined && db !== undefined) return `base ${b} changed (${short(da)} -> ${short(db)})`;
      return `base changed (${a} -> ${b})`;
    }
    case 'import':
    case 'overlay-dir': {
      const what = r.kind === 'import' ? 'import' : 'overlay_dirs source';
      switch (r.change) {
        case 'content':
          return `${what} ${r.path} changed (${short(r.before)} -> ${short(r.after)})`;
        case 'added':
          return `new ${what} ${r.path}`;
        case 'removed':
          return `${what} ${r.path} removed`;
        case 'placement': {
          const f = r.fields?.[0];
          return f === undefined ? `${what} ${r.path} placement changed` : `${what} ${r.path} ${f.field} changed (${f.before} -> ${f.after})`;
        }
      }
      break;
    }
    case 'run':
      return 'run changed';
    case 'directive':
      return `${r.path} changed (${clip(r.before)} -> ${clip(r.after)})`;
    case 'source-date-epoch':
      return `SOURCE_DATE_EPOCH changed (${r.before ?? '(unset)'} -> ${r.after ?? '(unset)'})`;
    case 'inputs':
      return 'inputs changed';
  }
}
