/**
 * A run step's sandbox started from outside the build namespaces: `stacker-nsrun`
 * (native/stacker_nsrun.c) enters a new user + mount namespace with its ids mapped (newuidmap,
 * newgidmap), mounts the build's overlay, makes the mount points the run needs (as the
 * namespace's root, chrooted into the rootfs) and becomes bubblewrap, with umask 022 (as the
 * builder inside runs bubblewrap). One short-lived namespace per
 * run step, and no second Node process for the build: the overlay vanishes with the namespace,
 * whatever ends the step.
 *
 * Entering a namespace and mapping its ids takes two set-uid helpers and three processes
 * (~35 ms here), so a build starts one as soon as it knows it will run a step (`prewarm`),
 * and the step takes it when it comes.
 */
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { StackerError } from '../core/index.js';
import { mark } from '../core/trace.js';
import { native, nsrunPath } from '../oci/layer/native.js';
import { relativeOverlayOptions, type OverlayMount } from './mount.js';
import { bwrapArgs, bwrapPath, type RunOutcome, type SandboxSpec } from './sandbox.js';
import { idMapArgs, idMapFromArgs, type IdMap } from './userns.js';

export interface NamespacedRun extends RunOutcome {
  /** The namespace's id map (outside id -> inside id), from the maps it was given. */
  ids: IdMap;
  /** The top-most paths made for the mount points (paths in the rootfs). */
  created: string[];
}

/** Exit codes of stacker-nsrun before bubblewrap runs. */
const MOUNT_FAILED = 125;
const PREPARE_FAILED = 124;
const NO_BWRAP = 127;

/** One field of the protocol (NUL-terminated); a field holding a NUL cannot be sent. */
function field(s: string): string {
  if (s.includes('\0')) throw new StackerError('STACKER_E_USAGE', `a path or argument holds a NUL byte: ${JSON.stringify(s)}`);
  return `${s}\0`;
}

/** A started stacker-nsrun: entering its namespace, then waiting for its step. */
class Sandbox {
  readonly pid: number;
  /** How the namespace maps ids (from the maps it was given). */
  readonly ids: IdMap;
  readonly control: Socket;
  private readonly out: Socket;
  private readonly err: Socket;
  /** stacker-nsrun's own messages (it writes none unless it fails); then the run's stderr goes to `onStderr`. */
  early = '';
  running = false;
  onStderr: ((chunk: string) => void) | undefined;
  onStdout: ((chunk: string) => void) | undefined;
  /** The mount points' top-most paths it made. */
  readonly created: string[] = [];
  private waiters = new Map<string, () => void>();
  private reaped = false;
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor() {
    mark('sandbox: spawn');
    // posix_spawn through the addon: Node's spawn would fork this whole process (~10 ms).
    const helper = nsrunPath();
    const maps = idMapArgs();
    let fds: [number, number, number, number];
    try {
      fds = native().spawnPiped(helper, [helper, ...maps], [`PATH=${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`]);
    } catch (e) {
      throw new StackerError('STACKER_E_NAMESPACE', `could not start ${helper}: ${(e as Error).message}`, { hint: 'rebuild stacker (`npm rebuild`)' });
    }
    mark('sandbox: spawned');
    const [pid, out, err, control] = fds;
    this.pid = pid;
    this.ids = idMapFromArgs(maps);
    this.out = new Socket({ fd: out, readable: true, writable: false });
    this.err = new Socket({ fd: err, readable: true, writable: false });
    this.control = new Socket({ fd: control, readable: true, writable: true });
    this.control.setEncoding('utf8');
    this.control.on('error', () => {});
    this.out.setEncoding('utf8').on('data', (c: string) => this.onStdout?.(c));
    this.err.setEncoding('utf8').on('data', (c: string) => {
      if (this.running) this.onStderr?.(c);
      else this.early += c;
    });
    let pending = '';
    this.control.on('data', (c: string) => {
      pending += c;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const msg = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (msg.startsWith('created ')) {
          this.created.push(msg.slice('created '.length));
          continue;
        }
        if (msg === 'running') {
          mark('sandbox: running');
          // Anything the run wrote on stderr before this message was read is the run's.
          this.running = true;
          if (this.early !== '') this.onStderr?.(this.early);
          this.early = '';
        }
        this.waiters.get(msg)?.();
        this.waiters.delete(msg);
      }
    });
    const ended = (s: Socket) => new Promise<void>((resolve) => s.once('close', () => resolve()));
    // Its output ends when it and everything it started have exited (bwrap's pid namespace dies
    // with it); then it is reaped, polled for the moment the two may be apart.
    this.closed = Promise.all([ended(this.out), ended(this.err), ended(this.control)]).then(() => new Promise((resolve) => {
      let delay = 1;
      const poll = (): void => {
        const st = native().waitpid(this.pid);
        if (st === null) {
          setTimeout(poll, delay);
          delay = Math.min(delay * 2, 50);
          return;
        }
        this.reaped = true;
        mark('sandbox: reaped');
        resolve({ code: st[0] >= 0 ? st[0] : null, signal: st[1] >= 0 ? (signalName(st[1]) ?? 'SIGKILL') : null });
      };
      poll();
    }));
    // Unused, it must not keep this process alive; while it runs a step, the step awaits it.
    this.idle(true);
  }

  idle(yes: boolean): void {
    for (const s of [this.out, this.err, this.control]) {
      if (yes) s.unref();
      else s.ref();
    }
  }

  kill(sig: NodeJS.Signals): void {
    if (this.reaped) return; // its pid may be another process's by now
    try {
      process.kill(this.pid, sig);
    } catch { /* gone */ }
  }

  /** Resolves when stacker-nsrun says `msg`; rejects with its reason if it ends first. */
  message(msg: string): Promise<void> {
    return Promise.race([
      new Promise<void>((resolve) => this.waiters.set(msg, resolve)),
      this.closed.then(({ code, signal }) => {
        throw this.failure(code, signal);
      }),
    ]);
  }

  failure(code: number | null, signal: NodeJS.Signals | null): StackerError {
    const why = this.early.trim() || (signal !== null ? `killed by ${signal}` : `exit status ${code}`);
    if (code === MOUNT_FAILED && /mounting the overlay/.test(why)) {
      return new StackerError('STACKER_E_MOUNT', `the build's overlay could not be mounted: ${why}`, {
        hint: 'run `stacker check`: overlayfs with userxattr needs Linux >= 5.11 and a roots dir not on overlayfs, NFS or tmpfs',
      });
    }
    if (code === PREPARE_FAILED) return new StackerError('STACKER_E_MOUNT', `making the run step's mount points failed: ${why}`);
    if (code === NO_BWRAP) return new StackerError('STACKER_E_NAMESPACE', `bubblewrap could not be run: ${why}`, { hint: 'apt-get install bubblewrap; `stacker check` lists what is missing' });
    return new StackerError('STACKER_E_NAMESPACE', `could not enter the build namespace: ${why}`, {
      hint: 'install util-linux and uidmap (apt-get install uidmap); `stacker check` lists what is missing',
    });
  }

  discard(): void {
    this.kill('SIGKILL');
    for (const s of [this.out, this.err, this.control]) s.destroy();
  }
}

function signalName(n: number): NodeJS.Signals | undefined {
  return (Object.entries(constants.signals) as [NodeJS.Signals, number][]).find(([, v]) => v === n)?.[0];
}

let warm: Sandbox | undefined;
/** Run steps the build has yet to start (prewarmSandbox). */
let stepsLeft = 0;

function warmOne(): void {
  warm = new Sandbox();
}

/**
 * A build about to run `steps` run steps: one sandbox is started now and waits for the first
 * step (entering the namespace overlaps with what the build does before it), and each step
 * that takes one starts the next while steps remain.
 */
export function prewarmSandbox(steps: number): void {
  stepsLeft = steps;
  if (warm === undefined && steps > 0) warmOne();
}

/** Ends the waiting sandbox, if any (the build has no step left). */
export function discardSandbox(): void {
  stepsLeft = 0;
  warm?.discard();
  warm = undefined;
}

/** A mount point the run needs: a directory, or a file (bind targets of files). */
export interface MountPoint { path: string; kind: 'dir' | 'file' }

const INTERRUPTED: NamespacedRun = { exitCode: 143, signal: 'SIGTERM', ids: { uid: () => undefined, gid: () => undefined }, created: [] };

/**
 * Runs `spec` (whose rootfs is `mount.target`) on the overlay `mount`, in namespaces of its own.
 * The mount points the image lacks are made first, as the namespace's root, chrooted into the
 * rootfs (so the image's symlinks resolve inside it); `created` says which top-most paths were
 * made, for the caller to take out of the layer if they stay empty. `onStarted` is called as the
 * request goes to stacker-nsrun (before any output of the run). Output is streamed; aborting kills the sandbox.
 */
export async function runOverlaySandbox(
  mount: OverlayMount,
  spec: SandboxSpec,
  opts: {
    points: MountPoint[];
    onStarted?: () => void;
    onOutput?: (stream: 'stdout' | 'stderr', chunk: string) => void;
    signal?: AbortSignal;
  },
): Promise<NamespacedRun> {
  const aborted = (): boolean => opts.signal?.aborted === true;
  if (aborted()) return INTERRUPTED;
  const options = relativeOverlayOptions(mount);
  const args = bwrapArgs(spec);
  const bwrap = bwrapPath();
  for (const p of opts.points) {
    if (p.path.includes('\n')) throw new StackerError('STACKER_E_MOUNT', `a mount point's path holds a newline: ${JSON.stringify(p.path)}`);
  }
  const sb = warm ?? new Sandbox();
  warm = undefined;
  if (--stepsLeft > 0) warmOne();
  sb.idle(false);
  sb.onStdout = (c) => opts.onOutput?.('stdout', c);
  sb.onStderr = (c) => opts.onOutput?.('stderr', c);
  const onAbort = (): void => {
    sb.kill('SIGTERM');
    setTimeout(() => sb.kill('SIGKILL'), 2000).unref();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    // The whole request at once: the mount, then (once it is mounted) the mount points and the
    // run, which stacker-nsrun goes on with without waiting for this process to answer `ready`.
    // So the step starts now, before any of its output can arrive.
    opts.onStarted?.();
    sb.control.write(field('mount') + field(mount.cwd) + field(options) + field(mount.target)
      + opts.points.map((p) => field(p.kind === 'dir' ? 'd' : 'f') + field(p.path)).join('')
      + field('bwrap') + field(bwrap) + args.map((a) => field('arg') + field(a)).join('') + field('go'));
    mark('sandbox: request sent');
    await sb.message('ready');
    mark('sandbox: mounted');
    const { code, signal } = await sb.closed;
    if (!sb.running) throw sb.failure(code, signal);
    return { exitCode: code ?? 128, ...(signal !== null ? { signal } : {}), ids: sb.ids, created: sb.created };
  } catch (e) {
    sb.discard();
    // Interrupted: the step reports it (as with a sandbox started inside).
    if (aborted()) return INTERRUPTED;
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

