import { canonicalJson, diffDocuments } from '../fingerprint/canonical.js';
import { diffTrees, type TreeChange, type TreeEntry } from '../fingerprint/tree-digest.js';
import type { BaseInput, ImportInput, InputDocument } from './input-document.js';
import { unifiedDiff } from './why-line-diff.js';
import type { FileChange, Reason, RootCause } from './why-reasons.js';

export { baseDigest, baseName, oneLine, type FileChange, type Reason, type RootCause } from './why-reasons.js';

/**
 * Why a layer (re)builds: the inputs of its document that differ from the last recorded build of
 * the same layer, each with both values. Pure: documents and directory listings are looked up
 * through `ExplainContext`, so the same code explains a dry run (current documents) and a past
 * build (documents from the index). The data is stored per build (`build_nodes.reason_json`) and
 * printed by `why-rebuilt` (src/report/why-render.ts); `oneLine` is what `build` prints.
 */

export interface ExplainContext {
  /** An input document by key (current plan first, then the index). */
  documentOf(key: string): InputDocument | undefined;
  /** The listing of a local input by its digest (current walk first, then the index). */
  treeOf(digest: string): TreeEntry[] | undefined;
}

/** At most this many changed files are kept per import. */
export const MAX_FILES = 50;

/** Every difference between `prev` (the layer's last recorded build) and `doc`. */
export function explain(doc: InputDocument, prev: InputDocument | undefined, ctx: ExplainContext): Reason[] {
  return new Explainer(ctx).explain(doc, prev);
}

/**
 * `explain` for many layers of one graph: root causes are followed once per parent key change
 * and shared by every descendant (a chain of N layers costs N explanations, not N²/2), and each
 * listing is fetched once.
 */
export class Explainer {
  private readonly trees = new Map<string, TreeEntry[] | undefined>();
  private readonly roots = new Map<string, RootCause[]>();
  constructor(private readonly ctx: ExplainContext) {}

  explain(doc: InputDocument, prev: InputDocument | undefined): Reason[] {
    if (prev === undefined) return [{ kind: 'never-built' }];
    const out: Reason[] = [];
    if (prev.format !== doc.format) out.push({ kind: 'format', before: prev.format, after: doc.format });
    const codec = (d: InputDocument): string => `${d.output.layerType} ${d.output.recipe}`;
    if (codec(prev) !== codec(doc)) out.push({ kind: 'codec', before: codec(prev), after: codec(doc) });
    for (const p of doc.parents) {
      const old = prev.parents.find((q) => q.name === p.name);
      if (old === undefined) out.push({ kind: 'parent', parent: p.name, before: null, after: p.key, rootCauses: [] });
      else if (old.key !== p.key) out.push({ kind: 'parent', parent: p.name, before: old.key, after: p.key, rootCauses: this.rootCauses(p.name, old.key, p.key) });
    }
    for (const q of prev.parents) {
      if (!doc.parents.some((p) => p.name === q.name)) out.push({ kind: 'parent', parent: q.name, before: q.key, after: null, rootCauses: [] });
    }
    if (baseDiffers(prev.base, doc.base)) out.push({ kind: 'base', before: prev.base, after: doc.base });
    out.push(...this.imports('import', prev.imports, doc.imports));
    const asImport = (d: InputDocument['overlayDirs'][number]): ImportInput => ({ path: d.source, dest: d.dest, mode: null, uid: null, gid: null, digest: d.digest });
    out.push(...this.imports('overlay-dir', prev.overlayDirs.map(asImport), doc.overlayDirs.map(asImport)));
    if (prev.run !== doc.run) out.push({ kind: 'run', diff: unifiedDiff(prev.run, doc.run) });
    if (prev.sourceDateEpoch !== doc.sourceDateEpoch) out.push({ kind: 'source-date-epoch', before: prev.sourceDateEpoch, after: doc.sourceDateEpoch });
    for (const d of diffDocuments(directives(prev), directives(doc))) {
      const r: Reason = { kind: 'directive', path: d.path };
      if (d.before !== undefined) r.before = d.before;
      if (d.after !== undefined) r.after = d.after;
      out.push(r);
    }
    if (out.length === 0 && canonicalJson(prev) !== canonicalJson(doc)) out.push({ kind: 'inputs' });
    return out;
  }

  /** Follows a parent's key change up to the layers whose own inputs changed. */
  private rootCauses(name: string, oldKey: string, newKey: string): RootCause[] {
    const memo = `${oldKey} ${newKey}`;
    const known = this.roots.get(memo);
    if (known !== undefined) return known;
    const now = this.ctx.documentOf(newKey);
    const was = this.ctx.documentOf(oldKey);
    let out: RootCause[];
    if (now === undefined || was === undefined) {
      out = [{ layer: name, reasons: [{ kind: 'inputs' }] }];
    } else {
      const reasons = this.explain(now, was);
      const own = reasons.filter((r) => r.kind !== 'parent' || r.before === null || r.after === null);
      out = own.length > 0 ? [{ layer: name, reasons: own.map(stripRootCauses) }] : [];
      for (const r of reasons) {
        if (r.kind !== 'parent') continue;
        for (const c of r.rootCauses) if (!out.some((o) => o.layer === c.layer)) out.push(c);
      }
    }
    this.roots.set(memo, out);
    return out;
  }

  private imports(kind: 'import' | 'overlay-dir', before: ImportInput[], after: ImportInput[]): Reason[] {
    const used = new Set<number>();
    const out: Reason[] = [];
    const match = (imp: ImportInput): number => {
      let i = before.findIndex((b, j) => !used.has(j) && b.path === imp.path && b.dest === imp.dest);
      if (i < 0) i = before.findIndex((b, j) => !used.has(j) && b.path === imp.path);
      return i;
    };
    for (const imp of after) {
      const i = match(imp);
      if (i < 0) {
        out.push({ kind, path: imp.path, dest: imp.dest, change: 'added', before: null, after: imp.digest });
        continue;
      }
      used.add(i);
      const old = before[i]!;
      // A stacker:// import's digest is its source layer's key: the parent reason tells that.
      if (old.digest !== imp.digest && !imp.path.startsWith('stacker://')) out.push(this.content(kind, old, imp));
      const fields = (['dest', 'mode', 'uid', 'gid'] as const)
        .filter((f) => old[f] !== imp[f])
        .map((f) => ({ field: f, before: fieldText(f, old[f]), after: fieldText(f, imp[f]) }));
      if (fields.length > 0) out.push({ kind, path: imp.path, dest: imp.dest, change: 'placement', before: old.digest, after: imp.digest, fields });
    }
    before.forEach((b, j) => {
      if (!used.has(j)) out.push({ kind, path: b.path, dest: b.dest, change: 'removed', before: b.digest, after: null });
    });
    return out;
  }

  private treeOf(digest: string): TreeEntry[] | undefined {
    if (!this.trees.has(digest)) this.trees.set(digest, this.ctx.treeOf(digest));
    return this.trees.get(digest);
  }

  private content(kind: 'import' | 'overlay-dir', old: ImportInput, imp: ImportInput): Reason {
    const r: Extract<Reason, { kind: 'import' | 'overlay-dir' }> = { kind, path: imp.path, dest: imp.dest, change: 'content', before: old.digest, after: imp.digest };
    if (!isLocal(imp.path)) return r;
    const a = this.treeOf(old.digest);
    const b = this.treeOf(imp.digest);
    if (a === undefined || b === undefined) {
      r.filesUnknown = true;
      return r;
    }
    const files = diffTrees(a, b).map((c) => fileChange(imp.path, c));
    r.files = files.slice(0, MAX_FILES);
    if (files.length > MAX_FILES) r.moreFiles = files.length - MAX_FILES;
    return r;
  }
}

function stripRootCauses(r: Reason): Reason {
  return r.kind === 'parent' ? { ...r, rootCauses: [] } : r;
}

function isLocal(path: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(path);
}

/** A built base is its parent (the parent reason covers it); a stacker:// tar base's digest is its source's key. */
function baseDiffers(a: BaseInput, b: BaseInput): boolean {
  if (a.type === 'tar' && b.type === 'tar' && a.url === b.url && a.url.startsWith('stacker://')) return false;
  return canonicalJson(a) !== canonicalJson(b);
}

function fieldText(field: string, v: string | number | null): string {
  if (v === null) return '(unset)';
  if (field === 'mode' && typeof v === 'number') return `0${v.toString(8).padStart(3, '0')}`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function fileChange(importPath: string, c: TreeChange): FileChange {
  const path = c.path === '.' ? importPath : `${importPath.replace(/\/+$/, '')}/${c.path}`;
  const fields: FileChange['fields'] = [];
  if (c.change === 'modified' && c.before !== undefined && c.after !== undefined) {
    const a = c.before;
    const b = c.after;
    for (const f of c.fields) {
      switch (f) {
        case 'content':
          fields.push({ field: 'content', before: a.digest ?? '(none)', after: b.digest ?? '(none)' });
          break;
        case 'mode':
          fields.push({ field: 'mode', before: fieldText('mode', a.mode), after: fieldText('mode', b.mode) });
          break;
        case 'type':
          fields.push({ field: 'type', before: a.type, after: b.type });
          break;
        case 'target':
          fields.push({ field: 'target', before: JSON.stringify(a.target ?? ''), after: JSON.stringify(b.target ?? '') });
          break;
        case 'link':
          fields.push({ field: 'hardlink', before: a.link ?? '(none)', after: b.link ?? '(none)' });
          break;
        default:
          fields.push({ field: f, before: String(a[f] ?? ''), after: String(b[f] ?? '') });
      }
    }
  }
  return { path, change: c.change, fields };
}

/** The names stacker.yaml uses for the document's directive fields. */
const YAML_NAMES: Record<string, string> = {
  fullCommand: 'full_command',
  workingDir: 'working_dir',
  runtimeUser: 'runtime_user',
  generateLabels: 'generate_labels',
  buildEnv: 'build_env',
  buildEnvPassthrough: 'build_env_passthrough',
  buildOnly: 'build_only',
  legacyImport: 'import',
};

/** The directive part of a document, keyed by stacker.yaml names (config flattened). */
function directives(d: InputDocument): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (k: string, v: unknown): void => {
    out[YAML_NAMES[k] ?? k] = v;
  };
  for (const [k, v] of Object.entries(d.config)) put(k, v);
  put('buildEnv', d.buildEnv);
  put('buildEnvPassthrough', d.buildEnvPassthrough);
  put('binds', d.binds);
  put('buildOnly', d.buildOnly);
  put('legacyImport', d.legacyImport);
  return out;
}
