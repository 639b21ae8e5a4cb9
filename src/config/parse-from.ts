import { isMap } from 'yaml';
import type { ImageSource, ImageSourceType, SourceLocation } from '../core/index.js';
import { ConfigCode } from './codes.js';
import { FROM_DIRECTIVES, IMAGE_TYPES } from './directives.js';
import { readBool, readString, typeError, type ValueSite } from './read-values.js';
import { suggestionHint } from './suggest.js';
import { entries, kindOf, loc, type ParseContext, type YNode } from './yaml-nodes.js';

const FROM_EXAMPLE = 'write from: {type: docker, url: docker://alpine:3.19} (types: docker, oci, tar, built, scratch)';

/**
 * Reads a layer's `from`. `node` is undefined when the layer has no `from` key; `keyLoc` is then
 * the layer name's location. URLs are kept as written: `oci` layout paths and local `tar` paths
 * are resolved against the CWD later, as stacker does.
 */
export function parseFrom(ctx: ParseContext, layer: string, node: YNode, keyLoc: SourceLocation): ImageSource | undefined {
  const { diag } = ctx;
  if (kindOf(node) === 'null') {
    diag.error(ConfigCode.FromMissing, `layer '${layer}' is invalid: no base (from directive)`, {
      location: keyLoc,
      hint: FROM_EXAMPLE,
    });
    return undefined;
  }
  const site: ValueSite = { ctx, layer, what: 'from', at: keyLoc };
  if (!isMap(node)) {
    typeError(site, 'a mapping', node, undefined, FROM_EXAMPLE);
    return undefined;
  }
  const location = loc(ctx, node, keyLoc);
  let type: string | undefined;
  let typeLoc = location;
  let url: string | undefined;
  let tag: string | undefined;
  let insecure = false;
  for (const e of entries(ctx, node, `'from' of layer '${layer}'`)) {
    const at = { ...site, at: e.keyLoc };
    switch (e.name) {
      case 'type':
        type = readString({ ...at, what: 'from.type' }, e.value);
        typeLoc = loc(ctx, e.value, e.keyLoc);
        break;
      case 'url':
        url = readString({ ...at, what: 'from.url' }, e.value);
        break;
      case 'tag':
        tag = readString({ ...at, what: 'from.tag' }, e.value);
        break;
      case 'insecure':
        insecure = readBool({ ...at, what: 'from.insecure' }, e.value);
        break;
      default: {
        const name = e.name ?? String(e.key);
        diag.error(ConfigCode.UnknownFromDirective, `unknown image source directive '${name}' in layer '${layer}'`, {
          location: e.keyLoc,
          hint: suggestionHint(name, FROM_DIRECTIVES, 'keys'),
        });
      }
    }
  }
  if (type === undefined || type === '') {
    diag.error(ConfigCode.FromMissing, `layer '${layer}' is invalid: no base (from directive)`, {
      location,
      hint: "'from' needs a 'type': docker, oci, tar, built or scratch",
    });
    return undefined;
  }
  if (!(IMAGE_TYPES as readonly string[]).includes(type)) {
    diag.error(ConfigCode.FromType, `unknown image type '${type}' in layer '${layer}'`, {
      location: typeLoc,
      hint: suggestionHint(type, IMAGE_TYPES, 'types'),
    });
    return undefined;
  }
  const t = type as ImageSourceType;
  if (t === 'built' && !tag) {
    diag.error(ConfigCode.FromTag, `${layer}: from tag cannot be empty for image type 'built'`, {
      location,
      hint: "'tag' names the parent layer, e.g. from: {type: built, tag: base}",
    });
    return undefined;
  }
  if ((t === 'docker' || t === 'oci' || t === 'tar') && !url) {
    diag.error(ConfigCode.FromUrl, `${layer}: from url cannot be empty for image type '${t}'`, {
      location,
      hint: URL_HINTS[t],
    });
    return undefined;
  }
  const source: ImageSource = { type: t, insecure, location };
  if (url) source.url = url;
  if (tag) source.tag = tag;
  return source;
}

const URL_HINTS = {
  docker: 'e.g. url: docker://alpine:3.19',
  oci: 'e.g. url: path/to/layout:tag (relative to the current directory)',
  tar: 'a local path (relative to the current directory), an http(s):// URL or stacker://<layer>/<path>',
} as const;
