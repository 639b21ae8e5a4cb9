import { endianness } from 'node:os';

/** Node's `process.arch` names mapped to the OCI/Go names used in image configs. */
const ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: endianness() === 'LE' ? 'ppc64le' : 'ppc64',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

export function ociArch(nodeArch: string = process.arch): string {
  return ARCH[nodeArch] ?? nodeArch;
}

/** The host platform in OCI terms, stacker's default `os`/`arch`. */
export function hostPlatform(): { os: string; arch: string } {
  return { os: 'linux', arch: ociArch() };
}
