import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { nsrunPath } from '../oci/layer/native.js';
import { findSubidRange } from './userns.js';

/** execa, loaded on use (only `stacker check` runs these; builds load this module with the runtime). */
async function execa(cmd: string, args: string[], opts: { cwd?: string; reject: false }): Promise<{ exitCode?: number; stdout: unknown; stderr: unknown }> {
  return (await import('execa')).execa(cmd, args, opts);
}

export interface CheckResult { name: string; ok: boolean; detail: string; fix?: string }

async function which(cmd: string): Promise<string | undefined> {
  const r = await execa('sh', ['-c', `command -v ${cmd}`], { reject: false });
  return r.exitCode === 0 ? String(r.stdout).trim() : undefined;
}

/** `stacker check`: each thing an unprivileged build needs, with the fix when it is missing. */
export async function preflight(rootsDir: string): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const root = process.getuid?.() === 0;
  const me = userInfo();
  const uname = await execa('uname', ['-sr'], { reject: false });
  out.push({ name: 'kernel', ok: true, detail: String(uname.stdout).trim() });

  for (const tool of ['newuidmap', 'newgidmap']) {
    const p = await which(tool);
    let ok = p !== undefined;
    let detail = p ?? 'not found';
    if (p !== undefined) {
      const st = statSync(p);
      const setuid = (st.mode & 0o4000) !== 0 && st.uid === 0;
      if (!setuid) {
        const caps = await execa('getcap', [p], { reject: false });
        ok = /cap_set[ug]id/.test(String(caps.stdout));
      }
      detail = ok ? `${p} (setuid or file caps)` : `${p} is neither setuid root nor has file capabilities`;
    }
    out.push({ name: tool, ok: ok || root, detail, fix: 'apt-get install uidmap' });
  }
  if (!root) {
    for (const file of ['/etc/subuid', '/etc/subgid']) {
      const r = findSubidRange(file, me.username, file.endsWith('uid') ? me.uid : me.gid);
      out.push({
        name: file,
        ok: r !== undefined && r.count >= 65535,
        detail: r ? `${me.username}: ${r.start}:${r.count}` : `no entry for ${me.username}`,
        fix: `as root: stacker unpriv-setup --username ${me.username}`,
      });
    }
  }
  const bwrap = await which('bwrap');
  out.push({ name: 'bubblewrap', ok: bwrap !== undefined, detail: bwrap ?? 'not found', fix: 'apt-get install bubblewrap' });
  let nsrun: string;
  try {
    nsrun = nsrunPath();
  } catch {
    nsrun = 'not built';
  }
  // Without it every build hands its plan to a builder inside the namespaces (slower, same result).
  out.push({ name: 'stacker-nsrun (run steps from the build\'s own process)', ok: nsrun !== 'not built', detail: nsrun, fix: 'rebuild stacker: `npm rebuild` in its folder (needs gcc, make, python3)' });

  mkdirSync(rootsDir, { recursive: true });
  const fs = await execa('stat', ['-f', '-c', '%T', rootsDir], { reject: false });
  const fsType = String(fs.stdout).trim();
  const badFs = ['overlayfs', 'nfs', 'nfs4'].includes(fsType);
  out.push({ name: 'roots filesystem', ok: !badFs, detail: `${rootsDir} is on ${fsType}`, fix: 'put --roots-dir on a local filesystem (ext4, xfs, btrfs), not overlayfs or NFS' });

  const t = mkdtempSync(join(rootsDir, '.check-'));
  try {
    for (const d of ['l1', 'l2', 'u', 'w', 'm']) mkdirSync(join(t, d));
    const script = 'mount -t overlay overlay -o lowerdir=l1:l2,upperdir=u,workdir=w,userxattr m && mknod wh c 0 0 && umount m';
    const args = root ? ['--mount', 'sh', '-c', script] : ['--user', '--map-root-user', '--map-auto', '--mount', 'sh', '-c', script];
    const r = await execa('unshare', args, { cwd: t, reject: false });
    out.push({
      name: 'overlay (userxattr) in a user namespace',
      ok: r.exitCode === 0,
      detail: r.exitCode === 0 ? 'mounts, and whiteouts can be created' : String(r.stderr).trim() || `exit ${r.exitCode}`,
      fix: 'needs Linux >= 5.11 with unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu >= 23.10 also kernel.apparmor_restrict_unprivileged_userns=0)',
    });
  } finally {
    await execa('unshare', root ? ['--mount', 'rm', '-rf', t] : ['--user', '--map-root-user', '--map-auto', 'rm', '-rf', t], { reject: false });
    rmSync(t, { recursive: true, force: true });
  }
  return out;
}
