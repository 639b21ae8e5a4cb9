/**
 * The end-to-end rig every e2e test uses. Tests run as root (CI does); stacker must be exercised
 * as an ordinary user with a subuid range, so the rig makes such a user (`stacker-e2e`), stages the
 * built CLI where that user can read it, writes projects the user owns, and runs the real
 * `bin/stacker.js` as that user. It also provides real parts: a local registry on 127.0.0.1,
 * a busybox base image and a Debian base image, both as OCI layouts made offline.
 *
 *   const project = await makeProject({ 'stacker.yaml': yaml, 'install.sh': { content, mode: 0o755 } });
 *   await project.copyIn(await busyboxLayout(), 'base/oci');
 *   const r = await runStacker(project, ['build']);
 *   assert.equal(r.code, 0, r.stderr);
 */
import { after, before } from 'node:test';
import { access, chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec, execOk, type ExecResult } from './rig-exec.js';
import { buildBusyboxLayout, cachedBusyboxLayout, cachedDebianLayout } from './rig-images.js';
import { startRegistry as startDockerRegistry } from '../helpers/registry.js';
import { nodeForUser, stageForUser, type Staged } from './rig-stage.js';
import { E2E_USER, ensureUser, isRoot, userArgv, type RigUser } from './rig-user.js';

export { E2E_USER, type RigUser } from './rig-user.js';
export { exec, execOk, type ExecResult } from './rig-exec.js';

/** A docker-registry on 127.0.0.1 (test/helpers/registry.ts), as the e2e tests use it. */
export interface LocalRegistry {
  /** `127.0.0.1:<port>`: what goes before the repository in a reference. */
  host: string;
  port: number;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The registry's storage root. */
  rootDir: string;
  /** Kills the registry and deletes its storage. Safe to call twice. */
  stop(): Promise<void>;
}

/** A file of a project: text, bytes, or either with a mode (default 0644). */
export type FileContent = string | Buffer | { content: string | Buffer; mode?: number };

export interface RunOptions {
  /** Added to (and overriding) the rig's minimal environment: HOME, USER, LOGNAME, PATH, LANG. */
  env?: Record<string, string>;
  input?: string | Buffer;
  /** Default 10 minutes. */
  timeoutMs?: number;
}

export interface Rig {
  user: RigUser;
  /** The repository checkout the tests were compiled from. */
  repoDir: string;
  stage: Staged;
  /** `bin/stacker.js` of what the user runs (the repo's own, or the staged copy's). */
  stackerBin: string;
  /** The node binary the user runs. */
  node: string;
  /** Where projects are made (one sub directory each, owned by the user). */
  projectsDir: string;
  /** Where base images are cached across runs. */
  cacheDir: string;
}

const BASE = process.env.STACKER_E2E_TMP ?? (isRoot() ? '/var/tmp' : join(tmpdir(), `stacker-e2e-u${process.getuid?.() ?? 0}`));
const STD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The repo root: the nearest ancestor of this file holding the `stacker` package.json. */
async function findRepoDir(): Promise<string> {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = await readFile(join(dir, 'package.json'), 'utf8').catch(() => undefined);
    if (pkg !== undefined && (JSON.parse(pkg) as { name?: string }).name === 'stacker') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('rig: cannot find the repo root (package.json named "stacker")');
    dir = up;
  }
}

let rigPromise: Promise<Rig> | undefined;

/** Sets the rig up once per process: user, subids, staging. */
export function getRig(): Promise<Rig> {
  rigPromise ??= (async () => {
    await mkdir(BASE, { recursive: true });
    const repoDir = await findRepoDir();
    const user = await ensureUser(join(BASE, 'stacker-e2e-rig.lock'));
    const stage = await stageForUser(user, repoDir, BASE);
    const node = await nodeForUser(user);
    const projectsDir = join(BASE, 'stacker-e2e');
    await mkdir(projectsDir, { recursive: true, mode: 0o755 });
    await chmod(projectsDir, 0o755);
    return { user, repoDir, stage, stackerBin: stage.stackerBin, node, projectsDir, cacheDir: join(BASE, 'stacker-e2e-cache') };
  })();
  return rigPromise;
}

/** The environment the user's processes get: minimal and explicit (`env -i`). */
export function userEnv(rig: Rig, extra: Record<string, string> = {}): Record<string, string> {
  const nodeDir = isAbsolute(rig.node) ? `${dirname(rig.node)}:` : '';
  return {
    HOME: rig.user.home,
    USER: rig.user.name,
    LOGNAME: rig.user.name,
    PATH: nodeDir + STD_PATH,
    LANG: 'C.UTF-8',
    ...extra,
  };
}

/** A temp project directory owned by the rig user. */
export class Project {
  constructor(
    readonly dir: string,
    readonly rig: Rig,
  ) {}

  /** Absolute path of `rel`, refusing names that leave the project. */
  path(rel: string): string {
    const p = resolve(this.dir, rel);
    if (p !== this.dir && !p.startsWith(this.dir + sep)) throw new Error(`rig: ${rel} is outside the project`);
    return p;
  }

  private async own(p: string): Promise<void> {
    if (this.rig.user.viaRunuser) await chown(p, this.rig.user.uid, this.rig.user.gid);
  }

  /** Creates the parent directories of `rel` that are missing, owned by the user. */
  private async mkdirs(rel: string): Promise<void> {
    const parts = relative(this.dir, dirname(this.path(rel))).split(sep).filter((s) => s !== '');
    let cur = this.dir;
    for (const part of parts) {
      cur = join(cur, part);
      if (!(await exists(cur))) {
        await mkdir(cur, { mode: 0o755 });
        await this.own(cur);
      }
    }
  }

  /** Writes (or replaces) a file, owned by the user. */
  async write(rel: string, file: FileContent): Promise<void> {
    const { content, mode } = typeof file === 'string' || Buffer.isBuffer(file) ? { content: file, mode: 0o644 } : file;
    await this.mkdirs(rel);
    const p = this.path(rel);
    await writeFile(p, content);
    await chmod(p, mode ?? 0o644);
    await this.own(p);
  }

  async writeAll(files: Record<string, FileContent>): Promise<void> {
    for (const [rel, file] of Object.entries(files)) await this.write(rel, file);
  }

  read(rel: string): Promise<Buffer> {
    return readFile(this.path(rel));
  }

  exists(rel: string): Promise<boolean> {
    return lstat(this.path(rel)).then(
      () => true,
      () => false,
    );
  }

  /** Copies a file or directory (e.g. an OCI layout) into the project at `rel`, owned by the user. */
  async copyIn(src: string, rel: string): Promise<string> {
    await this.mkdirs(rel);
    const dest = this.path(rel);
    await rm(dest, { recursive: true, force: true });
    await execOk('cp', ['-a', '--', src, dest]);
    if (this.rig.user.viaRunuser) await execOk('chown', ['-R', `${this.rig.user.uid}:${this.rig.user.gid}`, dest]);
    return dest;
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
    liveProjects.delete(this);
  }
}

const liveProjects = new Set<Project>();

/** Makes a project directory (owned by the user) holding `files`. */
export async function makeProject(files: Record<string, FileContent> = {}): Promise<Project> {
  const rig = await getRig();
  const dir = await mkdtemp(join(rig.projectsDir, 'p-'));
  await chmod(dir, 0o755);
  const project = new Project(dir, rig);
  if (rig.user.viaRunuser) await chown(dir, rig.user.uid, rig.user.gid);
  await project.writeAll(files);
  liveProjects.add(project);
  return project;
}

/** Runs `cmd args` as the rig user with the rig's minimal environment (plus `opts.env`). */
export async function runAsUser(cmd: string, args: readonly string[], cwd?: string, opts: RunOptions = {}): Promise<ExecResult> {
  const rig = await getRig();
  const argv = userArgv(rig.user, userEnv(rig, opts.env), cmd, args);
  return exec(argv[0] as string, argv.slice(1), { cwd: cwd ?? rig.user.home, input: opts.input, timeoutMs: opts.timeoutMs });
}

/** Runs the real CLI (`node bin/stacker.js ...args`) as the rig user, in the project directory. */
export async function runStacker(project: Project | string, args: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const rig = await getRig();
  const cwd = typeof project === 'string' ? project : project.dir;
  return runAsUser(rig.node, [rig.stackerBin, ...args], cwd, opts);
}

/** Unpacks `tag` of the project's oci/ with `umoci unpack --rootless` as the user; returns the rootfs path. */
export async function unpackImage(p: Project, tag: string): Promise<string> {
  const dir = `u-${tag}-${Date.now()}`;
  const r = await runAsUser('umoci', ['unpack', '--rootless', '--image', `oci:${tag}`, dir], p.dir);
  if (r.code !== 0) throw new Error(`umoci unpack oci:${tag} failed: ${r.stderr}`);
  return join(p.dir, dir, 'rootfs');
}

/** The layers a `stacker build` output says it built (`building <name>: <reason>` lines), in order. */
export function builtLayers(stdout: string): string[] {
  return [...stdout.matchAll(/^building (\S+):/gm)].map((m) => m[1]!);
}

/** Starts a docker-registry on 127.0.0.1 with its storage in a temp dir. */
export async function startRegistry(): Promise<LocalRegistry> {
  const r = await startDockerRegistry();
  return { host: r.url, port: r.port, url: `http://${r.url}`, rootDir: r.dir, stop: () => r.stop() };
}

/**
 * For a describe block: a registry started before its tests, with busybox pushed as
 * `<registry>/busybox:latest`, and stopped (projects removed) after them.
 */
export function useBusyboxRegistry(): { registry: LocalRegistry; busybox: PushedImage } {
  const env = {} as { registry: LocalRegistry; busybox: PushedImage };
  before(async () => {
    env.registry = await startRegistry();
    env.busybox = await pushBusybox(env.registry);
  });
  after(async () => {
    await env.registry?.stop();
    await cleanup();
  });
  return env;
}

/** Path of the cached busybox OCI layout (tag `busybox`), readable by the user. Do not modify it: copy it. */
export async function busyboxLayout(): Promise<string> {
  const rig = await getRig();
  return cachedBusyboxLayout(rig.repoDir, rig.cacheDir);
}

/** Builds a fresh busybox layout at `layoutDir` (bypassing the cache); returns its manifest digest. */
export async function makeBusyboxLayout(layoutDir: string, tag = 'busybox'): Promise<string> {
  const rig = await getRig();
  return buildBusyboxLayout(rig.repoDir, layoutDir, tag);
}

/** Path of the cached Debian bookworm minbase layout (tag `debian`); made once with debootstrap. */
export async function debianBaseLayout(): Promise<string> {
  const rig = await getRig();
  if (!isRoot()) throw new Error('rig: debianBaseLayout needs root (debootstrap)');
  return cachedDebianLayout(rig.repoDir, rig.cacheDir);
}

/** A reference pushed to a local registry. */
export interface PushedImage {
  /** `127.0.0.1:<port>/<repo>:<tag>` */
  ref: string;
  /** `docker://` + ref: what a stacker.yaml's `from.url` takes. */
  url: string;
  /** The manifest digest, the same in the layout and in the registry (`--preserve-digests`). */
  digest: string;
}

/** Pushes an OCI layout's tag to the registry with skopeo, digests preserved. */
export async function pushLayout(registry: LocalRegistry, layout: string, tag: string, repo: string, repoTag = 'latest'): Promise<PushedImage> {
  const ref = `${registry.host}/${repo}:${repoTag}`;
  await execOk('skopeo', ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', '--preserve-digests', `oci:${layout}:${tag}`, `docker://${ref}`]);
  const r = await execOk('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${ref}`]);
  return { ref, url: `docker://${ref}`, digest: r.stdout.trim() };
}

/** Pushes the busybox layout to `<registry>/busybox:latest`. */
export async function pushBusybox(registry: LocalRegistry, repo = 'busybox', repoTag = 'latest'): Promise<PushedImage> {
  return pushLayout(registry, await busyboxLayout(), 'busybox', repo, repoTag);
}

/** Removes every project made by this process (call from `after`). Cached images stay. */
export async function cleanup(): Promise<void> {
  for (const p of [...liveProjects]) await p.remove();
}
