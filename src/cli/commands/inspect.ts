import { StackerError, shortDigest } from '../../core/index.js';
import { OciLayout } from '../../oci/layout.js';
import type { ImageConfig, OciManifest } from '../../oci/types.js';
import { bool, parse } from '../args.js';
import { pathsFrom } from './common.js';

function human(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let x = n;
  while (x >= 1000 && i < u.length - 1) {
    x /= 1000;
    i++;
  }
  return `${i === 0 ? x : x.toFixed(1)} ${u[i]}`;
}

/** `stacker inspect [tag]`: layers, annotations and config of each tagged image. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (bool(values, 'help')) {
    process.stdout.write('stacker inspect [tag...] [--json]\n\n   Each image of the OCI layout: layers (digest, size, media type), annotations and config.\n');
    return 0;
  }
  const paths = pathsFrom(values);
  const layout = await OciLayout.open(paths.ociDir, { create: false });
  const tags = positionals.length > 0 ? positionals : await layout.listTags();
  const all = [];
  for (const tag of tags) {
    const desc = await layout.resolveTag(tag);
    if (desc === undefined) {
      throw new StackerError('STACKER_E_TAG_NOT_FOUND', `no tag ${tag} in ${paths.ociDir}`, { hint: `tags: ${(await layout.listTags()).join(', ') || '(none)'}` });
    }
    const manifest = await layout.readJson<OciManifest>(desc.digest, desc.size);
    const config = await layout.readJson<ImageConfig>(manifest.config.digest, manifest.config.size);
    all.push({ tag, manifest: desc.digest, layers: manifest.layers, annotations: manifest.annotations ?? {}, config });
  }
  if (bool(values, 'json')) {
    process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
    return 0;
  }
  for (const img of all) {
    process.stdout.write(`${img.tag} (${img.manifest})\n`);
    img.layers.forEach((l, i) => process.stdout.write(`\t${i} ${shortDigest(l.digest)} ${human(l.size)} (${l.mediaType})\n`));
    if (Object.keys(img.annotations).length > 0) {
      process.stdout.write('Annotations:\n');
      for (const [k, v] of Object.entries(img.annotations)) process.stdout.write(`  ${k}: ${v.includes('\n') ? `\n    ${v.split('\n').join('\n    ')}` : v}\n`);
    }
    process.stdout.write(`Image config:\n${JSON.stringify(img.config, null, 2)}\n`);
  }
  return 0;
}
