import { StackerError } from '../core/index.js';
import type { Descriptor, OciIndex, Platform } from './types.js';

/** The platform a build asks for (a layer's `os`/`arch`; `variant` is optional). */
export interface PlatformWant {
  os: string;
  arch: string;
  variant?: string;
}

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  armv7l: 'arm',
  i386: '386',
  i686: '386',
};

/** Default variants, as containerd/containers-image assume when an entry or a request has none. */
const DEFAULT_VARIANT: Record<string, string> = { arm64: 'v8', arm: 'v7' };

/** GOARCH-style architecture name for common aliases (`x86_64` → `amd64`, `aarch64` → `arm64`). */
export function normalizeArch(arch: string): string {
  return ARCH_ALIASES[arch] ?? arch;
}

export function formatPlatform(p: Platform | undefined): string {
  if (p === undefined) return 'unknown';
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

/**
 * Picks the index entry for `want`. Entries without a platform (or `unknown/unknown` attestation
 * manifests) never match. With a variant, only that variant matches (an entry without one counts as
 * the architecture's default variant); without one, the default variant or a variant-less entry is
 * preferred over others. Throws `STACKER_E_NO_MATCHING_PLATFORM` listing what is available.
 */
export function selectPlatform(index: OciIndex, want: PlatformWant, what: string): Descriptor {
  const arch = normalizeArch(want.arch);
  const def = DEFAULT_VARIANT[arch];
  const candidates = index.manifests.filter(
    (m) => m.platform !== undefined && m.platform.os === want.os && normalizeArch(m.platform.architecture) === arch,
  );
  const variantOf = (m: Descriptor) => m.platform?.variant || def;
  let pick: Descriptor | undefined;
  if (want.variant !== undefined && want.variant !== '') {
    pick = candidates.find((m) => variantOf(m) === want.variant);
  } else {
    pick = candidates.find((m) => variantOf(m) === def) ?? candidates[0];
  }
  if (pick !== undefined) return pick;
  const available = index.manifests.map((m) => formatPlatform(m.platform)).filter((p) => p !== 'unknown/unknown');
  const wanted = [want.os, arch, want.variant].filter((x) => x !== undefined && x !== '').join('/');
  throw new StackerError(
    'STACKER_E_NO_MATCHING_PLATFORM',
    `no image for platform ${wanted} in ${what}; available: ${available.length > 0 ? [...new Set(available)].join(', ') : 'none'}`,
    { hint: 'set the layer\'s os/arch to one of the available platforms' },
  );
}
