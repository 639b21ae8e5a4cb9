/**
 * Base images for end-to-end tests, made offline (only Debian's archive is reachable) and cached
 * on the machine: busybox from Debian's busybox-static (scripts/make-busybox-oci.sh, about a
 * second) and a `debootstrap --variant=minbase bookworm` rootfs (a minute or two, once).
 * Both are OCI image layouts that every user can read.
 */
import { createHash } from 'node:crypto';
import { access, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execOk } from './rig-exec.js';
import { withLock } from './rig-user.js';

const COMPLETE = '.stacker-e2e-complete';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Runs `make(tmpDir)` once for `finalDir`: concurrent callers wait on a lock, a finished result
 * carries a marker holding `stamp`, and a half-made one (a crash) or one with another stamp (made
 * by an older recipe) is thrown away and redone.
 */
async function cachedDir(finalDir: string, stamp: string, make: (tmp: string) => Promise<void>): Promise<string> {
  const done = async (): Promise<boolean> => (await readFile(join(finalDir, COMPLETE), 'utf8').catch(() => undefined)) === stamp;
  if (await done()) return finalDir;
  await withLock(`${finalDir}.lock`, async () => {
    if (await done()) return;
    const tmp = `${finalDir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await rm(finalDir, { recursive: true, force: true });
    await execOk('mkdir', ['-p', '-m', '0755', tmp]);
    try {
      await make(tmp);
      await execOk('chmod', ['-R', 'a+rX', tmp]);
      await writeFile(join(tmp, COMPLETE), stamp, { mode: 0o644 });
      await rename(tmp, finalDir);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
  return finalDir;
}

/** Builds a busybox layout at `layoutDir` with `tag` (no cache); returns the manifest digest. */
export async function buildBusyboxLayout(repoDir: string, layoutDir: string, tag = 'busybox'): Promise<string> {
  const r = await execOk('bash', [join(repoDir, 'scripts', 'make-busybox-oci.sh'), layoutDir, tag]);
  const digest = r.stdout.trim().split('\n').pop() ?? '';
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`make-busybox-oci.sh printed no digest: ${r.stdout}`);
  return digest;
}

/**
 * The path of a busybox OCI layout (tag `busybox`) in `cacheDir`, built on first use. The cache key
 * covers the scripts and the installed busybox binary, so a changed script rebuilds it.
 */
export async function cachedBusyboxLayout(repoDir: string, cacheDir: string): Promise<string> {
  const h = createHash('sha256');
  for (const s of ['make-busybox-oci.sh', 'oci-from-rootfs.sh']) h.update(await readFile(join(repoDir, 'scripts', s)));
  const bb = await stat('/bin/busybox').catch(() => undefined);
  h.update(bb ? `${bb.size}:${bb.mtimeMs}` : 'download');
  const dir = join(cacheDir, `busybox-${h.digest('hex').slice(0, 12)}`);
  await execOk('mkdir', ['-p', '-m', '0755', cacheDir]);
  await cachedDir(dir, 'busybox', async (tmp) => {
    await buildBusyboxLayout(repoDir, join(tmp, 'oci'), 'busybox');
  });
  // Drop layouts made by older scripts.
  for (const other of await readdir(cacheDir)) {
    if (/^busybox-[0-9a-f]{12}$/.test(other) && join(cacheDir, other) !== dir) {
      await rm(join(cacheDir, other), { recursive: true, force: true });
    }
  }
  return join(dir, 'oci');
}

/** The Debian mirror apt uses here (debootstrap must use it too: it is the reachable one). */
export async function debianMirror(): Promise<string> {
  const fromEnv = process.env.STACKER_E2E_DEBIAN_MIRROR;
  if (fromEnv) return fromEnv;
  const candidates: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  const files = ['/etc/apt/sources.list', ...(await readdir(dir).catch(() => [] as string[])).map((f) => join(dir, f))];
  for (const f of files) {
    if (!f.endsWith('.list') && !f.endsWith('.sources')) continue;
    const text = await readFile(f, 'utf8').catch(() => '');
    if (f.endsWith('.list')) {
      for (const m of text.matchAll(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/gm)) if (m[1]) candidates.push(m[1]);
    } else {
      // deb822 stanzas: URIs + Suites (+ Types) in one paragraph.
      for (const para of text.split(/\n\s*\n/)) {
        const field = (k: string): string => new RegExp(`^${k}:\\s*(.*)$`, 'mi').exec(para)?.[1]?.trim() ?? '';
        if (!/\bdeb\b/.test(field('Types')) || /^\s*Enabled:\s*no/im.test(para)) continue;
        if (!field('Suites').split(/\s+/).includes('bookworm')) continue;
        const uri = field('URIs').split(/\s+/)[0];
        if (uri) candidates.push(uri);
      }
    }
  }
  return candidates.find((u) => u.startsWith('http')) ?? 'http://deb.debian.org/debian';
}

/** Bump when the way the Debian image is made changes, so cached copies are remade. */
const DEBIAN_RECIPE = 'debian-bookworm-minbase v2: no dev nodes, no .debs, no apt lists';

/**
 * A Debian bookworm minbase image as an OCI layout (tag `debian`), at
 * `<cacheDir>/debian-bookworm/oci`. Made once with debootstrap (root only), then reused.
 * Device nodes, downloaded .debs and apt's package lists are left out of the layer (as in
 * Debian's own container images: a `run` step says `apt-get update` first); owners are kept.
 */
export async function cachedDebianLayout(repoDir: string, cacheDir: string): Promise<string> {
  await execOk('mkdir', ['-p', '-m', '0755', cacheDir]);
  const dir = join(cacheDir, 'debian-bookworm');
  await cachedDir(dir, DEBIAN_RECIPE, async (tmp) => {
    const rootfs = join(tmp, 'rootfs');
    const mirror = await debianMirror();
    await execOk('debootstrap', ['--variant=minbase', 'bookworm', rootfs, mirror], { timeoutMs: 20 * 60 * 1000 });
    await execOk('bash', [
      join(repoDir, 'scripts', 'oci-from-rootfs.sh'),
      '--keep-owners',
      '--cmd',
      '/bin/bash',
      '--created-by',
      `debootstrap --variant=minbase bookworm ${mirror}`,
      '--exclude',
      'dev/*',
      '--exclude',
      'proc/*',
      '--exclude',
      'sys/*',
      '--exclude',
      'var/cache/apt/archives/*.deb',
      '--exclude',
      'var/lib/apt/lists/*_*',
      rootfs,
      join(tmp, 'oci'),
      'debian',
    ]);
    await rm(rootfs, { recursive: true, force: true });
  });
  return join(dir, 'oci');
}
