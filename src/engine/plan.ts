import { canonicalJson } from '../fingerprint/canonical.js';
import { shortDigest } from '../core/index.js';
import type { InputDocument } from './input-document.js';

export interface PlanNode {
  name: string;
  key: string;
  state: 'cached' | 'build';
  /** For `build`: the first reason, one line. */
  reason?: string;
}

export interface PlanInput {
  order: string[];
  docs: Map<string, { key: string; doc: InputDocument }>;
  /** Keys present in the index. */
  known: Set<string>;
  /** The most recent input document recorded for each layer name (to explain a miss). */
  previous: Map<string, InputDocument>;
  noCache: boolean;
}

/** Pure: decides, per node, cached or build, and why. */
export function plan(inp: PlanInput): PlanNode[] {
  const rebuilt = new Set<string>();
  return inp.order.map((name) => {
    const { key, doc } = inp.docs.get(name)!;
    let reason: string | undefined;
    if (inp.noCache) reason = '--no-cache';
    else if (doc.binds.length > 0) reason = 'rebuilding cached layer due to use of binds in stacker file';
    else if (!inp.known.has(key)) reason = explainMiss(doc, inp.previous.get(name), rebuilt);
    if (reason === undefined) return { name, key, state: 'cached' };
    rebuilt.add(name);
    return { name, key, state: 'build', reason };
  });
}

/** The first input that differs from the last recorded build of the layer, in one line. */
export function explainMiss(doc: InputDocument, prev: InputDocument | undefined, rebuilt: Set<string>): string {
  if (prev === undefined) return 'never built';
  if (prev.format !== doc.format) return `stacker's format version changed (${prev.format} -> ${doc.format})`;
  const parents = doc.parents.filter((p) => rebuilt.has(p.name) || !prev.parents.some((q) => q.name === p.name && q.key === p.key));
  if (parents.length > 0) return `parent ${parents[0]!.name} was rebuilt`;
  if (canonicalJson(prev.base) !== canonicalJson(doc.base)) return `base ${describeBase(doc.base)} changed (was ${describeBase(prev.base)})`;
  for (const imp of doc.imports) {
    const old = prev.imports.find((i) => i.path === imp.path);
    if (old === undefined) return `new import ${imp.path}`;
    if (old.digest !== imp.digest) return `import ${imp.path} changed (${shortDigest(old.digest)} -> ${shortDigest(imp.digest)})`;
    if (canonicalJson(old) !== canonicalJson(imp)) return `import ${imp.path} placement changed`;
  }
  for (const old of prev.imports) if (!doc.imports.some((i) => i.path === old.path)) return `import ${old.path} removed`;
  if (prev.run !== doc.run) return 'run changed';
  if (prev.sourceDateEpoch !== doc.sourceDateEpoch) return 'SOURCE_DATE_EPOCH changed';
  for (const k of Object.keys(doc) as (keyof InputDocument)[]) {
    if (canonicalJson(prev[k]) !== canonicalJson(doc[k])) return `${k} changed`;
  }
  return 'inputs changed';
}

function describeBase(b: InputDocument['base']): string {
  switch (b.type) {
    case 'docker':
    case 'oci':
      return `${b.ref} ${shortDigest(b.manifest)}`;
    case 'tar':
      return `tar ${shortDigest(b.digest)}`;
    case 'built':
      return `built ${b.parent}`;
    case 'scratch':
      return 'scratch';
  }
}
