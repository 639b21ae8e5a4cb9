import type { Digest, LayerSpec } from '../core/index.js';
import type { Descriptor, ImageConfig, OciManifest } from '../oci/types.js';
import { DEFAULT_PATH } from '../runtime/default-path.js';

export interface ConfigInputs {
  layer: LayerSpec;
  /** The base's config (docker/oci base or built parent), or undefined for scratch/tar. */
  base: ImageConfig | undefined;
  /** diff_ids of the layers this build appended (zero or one). */
  newDiffIds: Digest[];
  /** Seconds since the epoch; SOURCE_DATE_EPOCH when set. */
  created: Date;
  author: string;
}

/**
 * The image config of a layer: the base's config with the layer's directives applied.
 * Deterministic: environment keys are applied in sorted order and replace an inherited entry
 * of the same name (stacker appends in random map order); cmd/entrypoint are inherited when
 * the layer does not set them, and setting `entrypoint` drops an inherited `cmd`, as Docker does.
 */
export function buildImageConfig(inp: ConfigInputs): ImageConfig {
  const { layer, base } = inp;
  const baseCfg = base?.config ?? {};
  const env = [...(baseCfg.Env ?? [])];
  for (const k of Object.keys(layer.environment).sort()) {
    const entry = `${k}=${layer.environment[k]}`;
    const i = env.findIndex((e) => e.split('=', 1)[0] === k);
    if (i >= 0) env[i] = entry;
    else env.push(entry);
  }
  if (!env.some((e) => e.startsWith('PATH='))) env.push(`PATH=${DEFAULT_PATH}`);

  let cmd = baseCfg.Cmd;
  let entrypoint = baseCfg.Entrypoint;
  if (layer.entrypoint !== undefined) {
    entrypoint = layer.entrypoint;
    cmd = undefined;
  }
  if (layer.cmd !== undefined) cmd = layer.cmd;
  if (layer.fullCommand !== undefined) {
    entrypoint = layer.fullCommand;
    cmd = undefined;
  }
  const labels = { ...(baseCfg.Labels ?? {}), ...layer.labels };
  const volumes: Record<string, Record<string, never>> = { ...(baseCfg.Volumes ?? {}) };
  for (const v of layer.volumes) volumes[v] = {};

  const created = inp.created.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const cfg: NonNullable<ImageConfig['config']> = { Env: env };
  if (cmd !== undefined) cfg.Cmd = cmd;
  if (entrypoint !== undefined) cfg.Entrypoint = entrypoint;
  const workingDir = layer.workingDir ?? baseCfg.WorkingDir;
  if (workingDir) cfg.WorkingDir = workingDir;
  const user = layer.runtimeUser ?? baseCfg.User;
  if (user) cfg.User = user;
  if (Object.keys(labels).length > 0) cfg.Labels = sortKeys(labels);
  if (Object.keys(volumes).length > 0) cfg.Volumes = sortKeys(volumes);

  const history = [...(base?.history ?? [])];
  if (inp.newDiffIds.length > 0) history.push({ created, created_by: `stacker build of ${layer.name}` });
  history.push({ created, created_by: 'stacker build', author: inp.author, empty_layer: true });

  return {
    created,
    author: inp.author,
    architecture: layer.arch,
    os: layer.os,
    config: cfg,
    rootfs: { type: 'layers', diff_ids: [...(base?.rootfs.diff_ids ?? []), ...inp.newDiffIds] },
    history,
  };
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
}

export const STACKER_VERSION = '0.1.0';

/** Manifest annotations: inherited ones, the layer's `annotations`, then stacker's own. */
export function manifestAnnotations(opts: {
  inherited: Record<string, string> | undefined;
  layer: LayerSpec;
  namespace: string;
  stackerYaml: string;
}): Record<string, string> {
  return sortKeys({
    ...(opts.inherited ?? {}),
    ...opts.layer.annotations,
    [`${opts.namespace}.stacker.stacker_yaml`]: opts.stackerYaml,
    [`${opts.namespace}.stacker.stacker_version`]: STACKER_VERSION,
  });
}

export function buildManifest(config: Descriptor, layers: Descriptor[], annotations: Record<string, string>): OciManifest {
  return {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config,
    layers,
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}
