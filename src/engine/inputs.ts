import { relative } from 'node:path';
import type { BuildSpec, LayerSpec } from '../core/index.js';
import { documentKey } from '../fingerprint/canonical.js';
import { packRecipe } from '../oci/layer/recipe.js';
import { FORMAT_VERSION, runText, type BaseInput, type ImportInput, type InputDocument } from './input-document.js';

/** The side effects input resolution needs, injected so the document logic stays testable. */
export interface InputResolvers {
  /** Manifest digest of a docker:// or oci: base (by tag: asks the registry / reads the layout). */
  resolveImage(layer: LayerSpec): Promise<string>;
  /** Content digest of a local file or directory tree (stat-cached). */
  digestLocal(absPath: string): string;
  /** Content digest of a URL's body. */
  digestUrl(url: string): Promise<string>;
}

export interface NodeDoc { key: string; doc: InputDocument }

/** The layer codec's recipe (compressor, level, chunking, zlib version): a change rebuilds. */
export const LAYER_CODEC = { layerType: 'tar+gzip', recipe: packRecipe() } as const;

/** Computes every layer's input document and key, in build order (parents' keys feed children). */
export async function computeDocuments(
  spec: BuildSpec,
  order: string[],
  r: InputResolvers,
  opts: { sourceDateEpoch: string | undefined },
): Promise<Map<string, NodeDoc>> {
  const out = new Map<string, NodeDoc>();
  for (const name of order) {
    const layer = spec.layers.get(name)!;
    const keyOf = (n: string): string => {
      const d = out.get(n);
      if (d === undefined) throw new Error(`bug: ${n} has no key before ${name}`);
      return d.key;
    };
    const parents = new Map<string, string>();
    let base: BaseInput;
    switch (layer.from.type) {
      case 'docker':
      case 'oci':
        base = { type: layer.from.type, ref: layer.from.url ?? '', manifest: await r.resolveImage(layer) };
        break;
      case 'built':
        base = { type: 'built', parent: layer.from.tag! };
        parents.set(layer.from.tag!, keyOf(layer.from.tag!));
        break;
      case 'tar': {
        const url = layer.from.url ?? '';
        if (url.startsWith('stacker://')) {
          const src = url.slice('stacker://'.length).split('/')[0]!;
          parents.set(src, keyOf(src));
          base = { type: 'tar', url, digest: `${keyOf(src)}` };
        } else if (/^https?:\/\//.test(url)) {
          base = { type: 'tar', url, digest: await r.digestUrl(url) };
        } else {
          base = { type: 'tar', url, digest: r.digestLocal(absFromCwd(spec, url)) };
        }
        break;
      }
      case 'scratch':
        base = { type: 'scratch' };
        break;
    }
    const imports: ImportInput[] = [];
    for (const imp of layer.imports) {
      let digest: string;
      if (imp.kind === 'stacker') {
        parents.set(imp.stackerLayer!, keyOf(imp.stackerLayer!));
        digest = `${keyOf(imp.stackerLayer!)}:${imp.stackerPath ?? ''}`;
      } else if (imp.kind === 'http') {
        digest = imp.hash !== undefined ? `sha256:${imp.hash}` : await r.digestUrl(imp.path);
      } else {
        // A wrong `hash:` fails even when the layer would otherwise be a cache hit. (The import
        // machinery loads only then: planning a no-op build does not need it.)
        if (imp.hash !== undefined) (await import('./imports.js')).verifyLocalImportHash(imp);
        digest = r.digestLocal(imp.path);
      }
      imports.push({ path: imp.rawPath, dest: imp.dest ?? null, mode: imp.mode ?? null, uid: imp.uid ?? null, gid: imp.gid ?? null, digest });
    }
    const doc: InputDocument = {
      format: FORMAT_VERSION,
      name,
      base,
      parents: [...parents].map(([n, key]) => ({ name: n, key })).sort((a, b) => a.name.localeCompare(b.name)),
      imports,
      run: runText(layer),
      config: {
        environment: layer.environment,
        labels: layer.labels,
        volumes: layer.volumes,
        cmd: layer.cmd ?? null,
        entrypoint: layer.entrypoint ?? null,
        fullCommand: layer.fullCommand ?? null,
        workingDir: layer.workingDir ?? null,
        runtimeUser: layer.runtimeUser ?? null,
        annotations: layer.annotations,
        generateLabels: layer.generateLabels,
        os: layer.os,
        arch: layer.arch,
      },
      buildEnv: layer.buildEnv,
      buildEnvPassthrough: layer.buildEnvPassthrough ?? null,
      binds: layer.binds.map((b) => ({ source: relative(layer.referenceDir, b.source) || '.', dest: b.dest })),
      overlayDirs: layer.overlayDirs.map((d) => ({ source: relative(layer.referenceDir, d.source) || '.', dest: d.dest, digest: r.digestLocal(d.source) })),
      buildOnly: layer.buildOnly,
      legacyImport: layer.legacyImport,
      sourceDateEpoch: opts.sourceDateEpoch ?? null,
      output: { ...LAYER_CODEC },
    };
    out.set(name, { key: documentKey(doc), doc });
  }
  return out;
}

/** `from.url` of tar/oci bases is resolved against the CWD, as stacker does. */
export function absFromCwd(_spec: BuildSpec, url: string): string {
  return url.startsWith('/') ? url : `${process.cwd()}/${url}`;
}
