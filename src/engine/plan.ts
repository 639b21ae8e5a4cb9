import type { TreeEntry } from '../fingerprint/tree-digest.js';
import type { InputDocument } from './input-document.js';
import { explain, Explainer, oneLine, type ExplainContext, type Reason } from './why.js';

export interface PlanNode {
  name: string;
  key: string;
  state: 'cached' | 'build';
  /** For `build`: the first reason, one line (`oneLine(reasons[0])`). */
  reason?: string;
  /** For `build`: every reason, as data (see why.ts); the first one is `reason`. */
  reasons?: Reason[];
  /** The key of the record the node was compared against (its layer's last result), if any. */
  prevKey?: string;
}

export interface PlanInput {
  order: string[];
  docs: Map<string, { key: string; doc: InputDocument }>;
  /** Keys present in the index. */
  known: Set<string>;
  /** The most recent input document recorded for each layer name (to explain a miss). */
  previous: Map<string, InputDocument>;
  /** The keys of `previous`' records. */
  previousKeys?: Map<string, string>;
  noCache: boolean;
  /** Earlier documents by key (a parent's, to find the root cause); default: none. */
  documentOf?: (key: string) => InputDocument | undefined;
  /** Directory listings by digest (to name the files that changed); default: none. */
  treeOf?: (digest: string) => TreeEntry[] | undefined;
}

/** Pure: decides, per node, cached or build, and why. */
export function plan(inp: PlanInput): PlanNode[] {
  const byKey = new Map<string, InputDocument>();
  for (const { key, doc } of inp.docs.values()) byKey.set(key, doc);
  const ctx: ExplainContext = {
    documentOf: (k) => byKey.get(k) ?? inp.documentOf?.(k),
    treeOf: (d) => inp.treeOf?.(d),
  };
  const explainer = new Explainer(ctx);
  return inp.order.map((name) => {
    const { key, doc } = inp.docs.get(name)!;
    const known = inp.known.has(key);
    const reasons: Reason[] = [];
    if (inp.noCache) reasons.push({ kind: 'no-cache' });
    else if (doc.binds.length > 0) reasons.push({ kind: 'binds', binds: doc.binds });
    if (!known) {
      const why = explainer.explain(doc, inp.previous.get(name));
      // An unknown key always builds, even if its last record reads the same (a deleted entry).
      reasons.push(...(why.length > 0 ? why : [{ kind: 'inputs' } as const]));
    }
    if (reasons.length === 0) return { name, key, state: 'cached' };
    const node: PlanNode = { name, key, state: 'build', reason: oneLine(reasons[0]!), reasons };
    const prevKey = known ? key : inp.previousKeys?.get(name);
    if (prevKey !== undefined) node.prevKey = prevKey;
    return node;
  });
}

/** The first input that differs from the last recorded build of the layer, in one line. */
export function explainMiss(doc: InputDocument, prev: InputDocument | undefined, ctx?: Partial<ExplainContext>): string {
  const reasons = explain(doc, prev, { documentOf: (k) => ctx?.documentOf?.(k), treeOf: (d) => ctx?.treeOf?.(d) });
  return reasons.length > 0 ? oneLine(reasons[0]!) : 'inputs changed';
}
