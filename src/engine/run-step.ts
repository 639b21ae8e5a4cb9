import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { native } from '../oci/layer/native.js';
import { StackerError, type EventSink, type LayerSpec } from '../core/index.js';
import { DEFAULT_PATH, runOverlaySandbox, runSandbox, type IdMap, type MountPoint, type OverlayMount, type RunOutcome, type SandboxSpec } from '../runtime/index.js';
import { secureJoin } from '../storage/index.js';
import { userEnv } from '../core/http.js';

/** Host variables passed into `run` when `build_env_passthrough` is not set (stacker's list). */
export const DEFAULT_PASSTHROUGH = ['ftp_proxy', 'http_proxy', 'https_proxy', 'no_proxy',
  'FTP_PROXY', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'TERM', 'SOURCE_DATE_EPOCH'];

export function runScript(layer: LayerSpec): string {
  const body = layer.run.join('\n');
  return (layer.run[0]?.startsWith('#!') ? '' : '#!/bin/sh -xe\n') + body + '\n';
}

/**
 * The environment of a run step: default PATH, passed-through host variables (as the user set
 * them: NODE_EXTRA_CA_CERTS under its own name, see core/http.ts), build_env, the layer name.
 */
export function runEnv(layer: LayerSpec, hostEnv: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH };
  const res = (layer.buildEnvPassthrough?.length ? layer.buildEnvPassthrough : DEFAULT_PASSTHROUGH).map((r) => new RegExp(`^${r}$`));
  for (const [k, v] of Object.entries(userEnv(hostEnv))) {
    if (v !== undefined && v !== '' && res.some((r) => r.test(k))) env[k] = v;
  }
  for (const [k, v] of Object.entries(layer.buildEnv)) if (v !== '') env[k] = v;
  env.STACKER_LAYER_NAME = layer.name;
  return env;
}

/**
 * Creates the mount targets the sandbox needs that the image lacks (here, inside the build
 * namespace; stacker-nsrun does the same from outside it), and returns the top-most paths it
 * created, so they can be taken out of the layer afterwards if they stayed empty. Directories
 * 0755 and files 0644 whatever the umask.
 */
export function prepareMountPoints(rootfs: string, points: MountPoint[]): string[] {
  const created: string[] = [];
  const makeFile = (p: string): void => {
    writeFileSync(p, '');
    chmodSync(p, 0o644);
  };
  const makeDirs = (p: string): void => {
    const first = mkdirSync(p, { recursive: true });
    if (first !== undefined) for (let d = p; d.length >= first.length; d = posix.dirname(d)) chmodSync(d, 0o755);
  };
  for (const mp of points) {
    const parts = mp.path.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const rel = '/' + parts.slice(0, i).join('/');
      const p = secureJoin(rootfs, rel);
      if (existsSync(p)) continue;
      if (i === parts.length && mp.kind === 'file') makeFile(p);
      else {
        mkdirSync(p);
        chmodSync(p, 0o755);
      }
      created.push(rel);
      break;
    }
    const p = secureJoin(rootfs, mp.path);
    if (!existsSync(p)) {
      if (mp.kind === 'file') {
        makeDirs(posix.dirname(p));
        makeFile(p);
      } else makeDirs(p);
    }
  }
  return created;
}

/**
 * Removes, from the upper dir, mount targets we created that nothing was written into, and the
 * parent directories that creating them copied up, when they are empty there and unchanged
 * against the layer below (otherwise `/etc` would land in every layer of an image without
 * /etc/resolv.conf). `lowers` are the absolute lower dirs, top first.
 */
export function removeMountStubs(upper: string, created: string[], lowers: string[] = []): void {
  const prune = (p: string): boolean => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return true;
    }
    if (st.isDirectory()) {
      const all = readdirSync(p).map((n) => prune(join(p, n))).every(Boolean);
      if (all) rmdirSync(p);
      return all;
    }
    if (st.isFile() && st.size === 0) {
      rmSync(p);
      return true;
    }
    return false;
  };
  for (const rel of created) {
    prune(join(upper, rel));
    for (let dir = posix.dirname(rel); dir !== '/'; dir = posix.dirname(dir)) {
      if (!unchangedCopyUp(join(upper, dir), lowers.map((l) => join(l, dir)))) break;
      rmdirSync(join(upper, dir));
    }
  }
  // The /stacker mount point never lands in a layer.
  rmSync(join(upper, 'stacker'), { recursive: true, force: true });
}

function unchangedCopyUp(upperDir: string, lowerDirs: string[]): boolean {
  let st;
  try {
    st = lstatSync(upperDir);
  } catch {
    return false;
  }
  if (!st.isDirectory() || readdirSync(upperDir).length > 0) return false;
  if (native().lgetxattr(upperDir, 'user.overlay.opaque') !== null) return false;
  for (const l of lowerDirs) {
    let lst;
    try {
      lst = lstatSync(l);
    } catch {
      continue;
    }
    return lst.isDirectory() && lst.mode === st.mode && lst.uid === st.uid && lst.gid === st.gid;
  }
  return false;
}

export interface RunStepOptions {
  layer: LayerSpec;
  rootfs: string;
  importsDir: string;
  importNames: string[];
  events: EventSink;
  shellFail: boolean;
  signal: AbortSignal;
  /** Receives the mount targets created in the rootfs; the caller removes them after unmounting. */
  createdStubs: string[];
  /**
   * From outside the build namespace: the overlay to mount (at `rootfs`) in the run step's own
   * namespaces (runtime/ns-sandbox.ts); `onStarted` is called once it is mounted, as the run
   * begins. Without it, `rootfs` is mounted already (this process is in the namespace).
   */
  outside?: { overlay: OverlayMount; onStarted: () => void };
}

/** Runs the layer's `run` script in the sandbox; returns the id map of the namespace it ran in when it entered one of its own. */
export async function runStep(o: RunStepOptions): Promise<IdMap | undefined> {
  const { layer } = o;
  const scriptPath = join(o.importsDir, '.stacker-run.sh');
  writeFileSync(scriptPath, runScript(layer), { mode: 0o755 });
  for (const b of layer.binds) {
    if (!existsSync(b.source)) {
      throw new StackerError('STACKER_E_BIND_SOURCE', `bind mount source "${b.source}" does not exist, refusing bind mount`, { location: b.location });
    }
  }
  const points: MountPoint[] = [
    { path: '/proc', kind: 'dir' }, { path: '/dev', kind: 'dir' }, { path: '/sys', kind: 'dir' },
    { path: '/etc/resolv.conf', kind: 'file' }, { path: '/stacker', kind: 'dir' },
    ...layer.binds.map((b) => ({ path: b.dest, kind: statSync(b.source).isDirectory() ? 'dir' as const : 'file' as const })),
  ];
  if (o.outside === undefined) o.createdStubs.push(...prepareMountPoints(o.rootfs, points));
  const links = o.importNames.filter((n) => lstatSync(join(o.importsDir, n)).isSymbolicLink());
  const binds = o.importNames.filter((n) => !links.includes(n));
  const spec: SandboxSpec = {
    rootfs: o.rootfs,
    argv: ['/stacker/imports/.stacker-run.sh'],
    env: runEnv(layer),
    roTmpfs: ['/stacker'],
    // Each import is also at /stacker/<name>, as in stacker; one that is a symlink stays one
    // there (with the same target text), as under /stacker/imports.
    roBinds: [
      { source: o.importsDir, dest: '/stacker/imports' },
      ...binds.map((n) => ({ source: join(o.importsDir, n), dest: `/stacker/${n}` })),
    ],
    symlinks: links.map((n) => ({ target: readlinkSync(join(o.importsDir, n)), dest: `/stacker/${n}` })),
    binds: layer.binds.map((b) => ({ source: b.source, dest: b.dest })),
  };
  const onOutput = (stream: 'stdout' | 'stderr', chunk: string): void => o.events.emit({ type: 'step-output', layer: layer.name, stream, chunk });
  let r: RunOutcome;
  let ids: IdMap | undefined;
  if (o.outside === undefined) r = await runSandbox(spec, { signal: o.signal, onOutput });
  else {
    const n = await runOverlaySandbox(o.outside.overlay, spec, {
      signal: o.signal,
      onOutput,
      onStarted: o.outside.onStarted,
      // As the namespace's root, chrooted into the rootfs: the image's symlinks resolve inside it.
      points: points.map((p) => ({ kind: p.kind, path: `/${p.path.split('/').filter(Boolean).join('/')}` })),
    });
    o.createdStubs.push(...n.created);
    ({ ids } = n);
    r = n;
  }
  if (o.signal.aborted) throw new StackerError('STACKER_E_INTERRUPTED', `build of ${layer.name} interrupted`, { exitCode: 130 });
  if (r.exitCode !== 0) {
    if (o.shellFail) {
      o.events.emit({ type: 'log', level: 'warn', layer: layer.name, message: `run failed; opening a shell in ${layer.name} (exit it to stop the build)` });
      await runSandbox({ ...spec, argv: ['/bin/sh'], interactive: true }, { signal: o.signal });
    }
    throw new StackerError('STACKER_E_RUN_FAILED',
      `run commands failed for image "${layer.name}" in "${layer.file}": exit status ${r.exitCode}${r.signal ? ` (${r.signal})` : ''}`, {
        location: layer.location,
        hint: 'the output above shows the failing command (scripts run with `sh -xe`); --shell-fail opens a shell where it failed',
      });
  }
  return ids;
}
