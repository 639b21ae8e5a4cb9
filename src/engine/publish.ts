import { relative, resolve, sep } from 'node:path';
import { StackerError, type BuildSpec, type EventSink, type LayerSpec, type StackerFile } from '../core/index.js';
import { BuildIndex } from '../cache/index.js';
import { loadBuildSpec, type LoadOptions } from '../config/index.js';
import { buildLayerGraph } from '../graph/index.js';
import { parseDockerRef } from '../oci/image-ref.js';
import { OciLayout } from '../oci/layout.js';
import { pushImage, type Credentials } from '../oci/registry/index.js';
import type { Descriptor, OciManifest } from '../oci/types.js';
import { planBuild } from './build.js';
import { acquireLock } from './lock.js';
import type { StackerPaths } from './paths.js';

export interface PublishOptions {
  paths: StackerPaths;
  /** One entry per stacker file named on the command line (`-f`, or each match of `-d/-p`). */
  files: LoadOptions[];
  /** `docker://host[:port]/path` or `oci:<layout>`. */
  url: string;
  tags: string[];
  credentials?: Credentials;
  /** `--skip-tls`: plain http. */
  insecure: boolean;
  /** `--image` filter; empty means every layer. */
  images: string[];
  showOnly: boolean;
  force: boolean;
  sourceDateEpoch: string | undefined;
  events: EventSink;
}

interface Target { kind: 'docker' | 'oci'; base: string }

function parseTarget(url: string): Target {
  if (url.startsWith('docker://') && url.length > 'docker://'.length) return { kind: 'docker', base: url.replace(/\/+$/, '') };
  if (url.startsWith('oci:') && url.length > 'oci:'.length) return { kind: 'oci', base: url };
  throw new StackerError('STACKER_E_USAGE', `--url ${url}: unsupported destination`, { hint: 'use docker://host[:port]/path or oci:<layout-dir>' });
}

/** Where `name:tag` goes: docker → `<url>/<name>:<tag>`; oci → `<url>:<name>_<tag>` (as stacker). */
export function destinationOf(url: string, name: string, tag: string): string {
  const t = parseTarget(url);
  return t.kind === 'docker' ? `${t.base}/${name}:${tag}` : `${t.base}:${name}_${tag}`;
}

/** A file path as the user would write it: relative to the CWD when below it. */
function shown(cwd: string, file: string): string {
  const r = relative(cwd, file);
  return r !== '' && !r.startsWith(`..${sep}`) && r !== '..' && !r.startsWith(sep) ? r : file;
}

/**
 * `stacker publish`: copies the tagged images of the OCI layout to a registry or another layout,
 * byte for byte (the digests stay the local ones). Without `force`, a layer whose inputs no longer
 * match a cached build (the planner would rebuild it) is refused before anything is copied.
 */
export async function runPublish(o: PublishOptions): Promise<number> {
  parseTarget(o.url);
  const log = (message: string): void => o.events.emit({ type: 'log', level: 'info', message });
  const release = await acquireLock(o.paths.stackerDir, {
    wait: true,
    onWait: (h) => log(`waiting for the lock on ${o.paths.stackerDir}, held by pid ${h.pid} (${h.cmd})`),
  });
  try {
    const output = await OciLayout.open(o.paths.ociDir, { create: false });
    const seen = new Set<string>();
    const work: { file: StackerFile; layer: LayerSpec }[] = [];
    for (const load of o.files) {
      const { spec } = await loadBuildSpec(load);
      const mine = spec.files.filter((f) => !seen.has(f.path));
      for (const f of mine) seen.add(f.path);
      if (o.tags.length === 0) {
        throw new StackerError('STACKER_E_USAGE', `can't save OCI images in ${shown(o.paths.cwd, mine[0]?.path ?? load.file)} since list of tags is empty`, { hint: 'pass --tag <tag> (repeatable)' });
      }
      const layers = mine.flatMap((file) => file.layerNames.map((n) => ({ file, layer: spec.layers.get(n)! })))
        .filter(({ layer }) => o.images.length === 0 || o.images.includes(layer.name));
      if (!o.force) await refuseStale(o, spec, output, layers.filter((l) => !l.layer.buildOnly).map((l) => l.layer.name));
      work.push(...layers);
    }
    const missing = o.images.filter((n) => !work.some((w) => w.layer.name === n));
    if (missing.length > 0) {
      throw new StackerError('STACKER_E_USAGE', `--image ${missing.join(', ')}: no such layer`, { hint: 'an image is a top-level key of the stacker file (other than config)' });
    }
    for (const { file, layer } of work) {
      const fileShown = shown(o.paths.cwd, file.path);
      if (layer.buildOnly) {
        log(`will not publish: ${fileShown} build_only ${layer.name}`);
        continue;
      }
      const desc = await output.resolveTag(layer.name);
      if (desc === undefined) {
        throw new StackerError('STACKER_E_NOT_BUILT', `no image ${layer.name} in ${o.paths.ociDir}`, { hint: 'run `stacker build` first' });
      }
      for (const tag of o.tags) {
        const dest = destinationOf(o.url, layer.name, tag);
        if (o.showOnly) {
          log(`would publish: ${fileShown} ${layer.name} to ${dest}`);
          continue;
        }
        await copyImage(o, output, layer.name, desc, dest);
        log(`published ${fileShown} ${layer.name} to ${dest} (${desc.digest})`);
      }
    }
    return 0;
  } finally {
    release();
  }
}

/** Plans like `build` does; any layer that would build, or whose tag is not that build's image, is refused. */
async function refuseStale(o: PublishOptions, spec: BuildSpec, output: OciLayout, names: string[]): Promise<void> {
  if (names.length === 0) return;
  const index = BuildIndex.open(o.paths.stackerDir);
  try {
    const order = buildLayerGraph(spec).order;
    const { steps } = await planBuild({
      paths: o.paths, load: o.files[0]!, noCache: false, shellFail: false, annotationsNamespace: 'io.stackeroci',
      sourceDateEpoch: o.sourceDateEpoch, targets: [], argv: [], events: o.events,
    }, spec, order, index);
    for (const name of names) {
      const step = steps.find((s) => s.name === name);
      const rec = step?.state === 'cached' ? index.lookup(step.key) : undefined;
      const desc = await output.resolveTag(name);
      const current = rec !== undefined && desc !== undefined
        && (await output.readJson<OciManifest>(desc.digest, desc.size)).config.digest === rec.configDigest;
      if (!current) {
        throw new StackerError('STACKER_E_STALE', `layer needs to be rebuilt before publishing: ${name}`, {
          hint: step?.reason !== undefined ? `${step.reason}; run \`stacker build\` (or publish anyway with --force)` : 'run `stacker build` (or publish anyway with --force)',
        });
      }
    }
  } finally {
    index.close();
  }
}

async function copyImage(o: PublishOptions, output: OciLayout, name: string, desc: Descriptor, dest: string): Promise<void> {
  if (dest.startsWith('docker://')) {
    await pushImage(output, name, parseDockerRef(dest.slice('docker://'.length), dest), {
      insecure: o.insecure,
      ...(o.credentials !== undefined ? { credentials: o.credentials } : {}),
    });
    return;
  }
  const rest = dest.slice('oci:'.length);
  const at = rest.lastIndexOf(':');
  const target = await OciLayout.open(resolve(o.paths.cwd, rest.slice(0, at)), { create: true, paramName: '--url' });
  const manifest = await output.readJson<OciManifest>(desc.digest, desc.size);
  for (const d of [...manifest.layers, manifest.config, desc]) await target.importBlob(output.blobPath(d.digest), d.digest, d.size);
  const { annotations, ...plain } = desc;
  const keep = Object.fromEntries(Object.entries(annotations ?? {}).filter(([k]) => k !== 'org.opencontainers.image.ref.name'));
  await target.setTag(rest.slice(at + 1), Object.keys(keep).length > 0 ? { ...plain, annotations: keep } : plain);
}
