import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, type BigIntStats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { HISTORY_JOURNAL } from '../cache/build-index.js';
import type { BuildSpec } from '../core/index.js';
import { changedNear, ownedStatTuple } from '../fingerprint/stat-cache.js';
import { parseImageRef } from '../oci/image-ref.js';
import { processStartedAt } from '../core/trace.js';
import type { PlanNode } from './plan.js';

/**
 * The no-op stamp: what a later `stacker build` with the same command line needs to know that it
 * would again be a no-op, checked by bin/stacker.js before it loads the CLI at all (see there:
 * `fastNoop`). Written by a build that found every layer cached and printed nothing but that.
 *
 * It holds a digest of the working directory, the command line and the environment (no secret
 * is written down); the bundle's and Node's identity; the stat data of every host file the plan read (the stacker files, the substitute
 * file, local file imports, local tar bases, the index.json of `oci` bases, the output layout's
 * index.json; every entry of directory imports and overlay_dirs) and the identity of the stacker
 * dir and its index; the lines to print and the keys for the build's history. A build that reads
 * anything else of the host (a docker tag, a URL, binds) writes no stamp, nor does one with
 * more than MAX_FILES such files, nor one whose inputs changed since the stat cache's racy window
 * before the build started (a write while the build ran may be newer than what the plan read;
 * one in the same timestamp granule could keep every stat field): the next no-op writes it.
 */
export interface NoopStamp {
  v: 3;
  /** sha256 of the working directory, command line and environment (bin/stacker.js computes it). */
  who: string;
  /** The bundle's stat tuple, Node's version, zlib's, the arch and Node's path. */
  tool: string;
  /** [path, stat tuple] of each input file and directory entry, and of the output's index.json. */
  files: [string, string][];
  /** [path, dev:ino:birth time] of the stacker dir and its index (a new one is another cache). */
  ids: [string, string][];
  /** The lock file: the fast path is not taken while a build holds it. */
  lock: string;
  /** What the build printed on stdout. */
  out: string;
  /** Where the fast path records its build (imported into the index by the next open). */
  journal: string;
  nodes: { layer: string; key: string }[];
  toolVersion: string;
}

/** Beyond this many files (imports are walked entry by entry), no stamp: it would be slow to check. */
const MAX_FILES = 50_000;

export interface StampOptions {
  /** What bin/stacker.js passed (STACKER_NOOP_STAMP): the stamp's path, `who` and `tool`. */
  file: string;
  who: string;
  tool: string;
  quiet: boolean;
  cwd: string;
  stackerDir: string;
  ociDir: string;
  substituteFile?: string;
  toolVersion: string;
}

/** Writes the stamp when this no-op's inputs allow one, and removes the old one otherwise. Best effort. */
export function writeNoopStamp(o: StampOptions, spec: BuildSpec, steps: PlanNode[]): void {
  try {
    const stamp = noopStamp(o, spec, steps);
    if (stamp === undefined) {
      rmSync(o.file, { force: true });
      return;
    }
    mkdirSync(dirname(o.file), { recursive: true, mode: 0o700 });
    const tmp = `${o.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(stamp), { mode: 0o600 });
    renameSync(tmp, o.file);
    removeOldStamps(dirname(o.file));
  } catch {
    // Only the next no-op's speed is at stake.
  }
}

function noopStamp(o: StampOptions, spec: BuildSpec, steps: PlanNode[]): NoopStamp | undefined {
  if (steps.some((s) => s.state !== 'cached')) return undefined;
  const inputs = new Set<string>(spec.files.map((f) => f.path));
  // Imports and overlay_dirs: a file, or a directory and everything in it.
  const trees = new Set<string>();
  if (o.substituteFile !== undefined) inputs.add(resolve(o.cwd, o.substituteFile));
  for (const step of steps) {
    const layer = spec.layers.get(step.name)!;
    if (layer.binds.length > 0) return undefined;
    for (const imp of layer.imports) {
      if (imp.kind === 'http') return undefined;
      if (imp.kind === 'local') trees.add(imp.path);
    }
    for (const d of layer.overlayDirs) trees.add(d.source);
    const url = layer.from.url ?? '';
    switch (layer.from.type) {
      case 'tar':
        if (/^https?:/.test(url)) return undefined;
        if (!url.startsWith('stacker://')) inputs.add(resolve(o.cwd, url));
        break;
      case 'oci':
      case 'docker': {
        const layoutUrl = layer.from.type === 'oci' ? url : url.startsWith('oci:') ? url.slice(4) : undefined;
        if (layoutUrl !== undefined) {
          inputs.add(join(resolve(o.cwd, layoutUrl.slice(0, Math.max(0, layoutUrl.indexOf(':')))), 'index.json'));
        } else {
          const ref = parseImageRef(url);
          if (ref.transport !== 'docker' || ref.digest === undefined) return undefined; // a tag: every build asks the registry
        }
        break;
      }
      default:
        break;
    }
  }
  // Racy against the start of this process: a file written while it ran (after the plan read it,
  // before these stats) is newer than that, and the stamp would claim what the plan never saw.
  // (A millisecond early: the start is known to the millisecond.)
  const now = BigInt(processStartedAt() - 1) * 1_000_000n;
  const files: [string, string][] = [];
  // The tuples are bin/stacker.js's `tuple`, which must match.
  const add = (p: string, st: BigIntStats): boolean => {
    if (changedNear(st, now)) return false;
    files.push([p, ownedStatTuple(st)]);
    return files.length <= MAX_FILES;
  };
  for (const p of inputs) {
    if (/^https?:/.test(p)) return undefined; // a stacker file read from a URL
    const st = lstatSync(p, { bigint: true });
    if (!st.isFile() || !add(p, st)) return undefined;
  }
  // A directory's own stat data changes when an entry is added, removed or renamed in it; each
  // entry's, when it is written, chmod-ed or chown-ed: every entry is listed, none followed.
  const walk = (p: string): boolean => {
    const st = lstatSync(p, { bigint: true });
    if (!add(p, st)) return false;
    return !st.isDirectory() || readdirSync(p).every((n) => walk(join(p, n)));
  };
  // An import that is a symlink is keyed as one (its target text, not followed), like the
  // symlinks inside directories; a new target is a new inode.
  for (const p of trees) if (!walk(p)) return undefined;
  // The output's index.json too, racy or not alike: changed by this build (tags moved) or by
  // another tool while it ran, it is newer than the build's start.
  const outIndex = join(o.ociDir, 'index.json');
  if (!add(outIndex, lstatSync(outIndex, { bigint: true }))) return undefined;
  const id = (p: string): [string, string] => {
    const st = statSync(p, { bigint: true });
    return [p, `${st.dev}:${st.ino}:${st.birthtimeNs}`];
  };
  return {
    v: 3,
    who: o.who,
    tool: o.tool,
    files,
    ids: [id(o.stackerDir), id(join(o.stackerDir, 'index.db'))],
    lock: join(o.stackerDir, '.lock'),
    out: o.quiet ? '' : steps.map((s) => `found cached layer ${s.name}\n`).join(''),
    journal: join(o.stackerDir, HISTORY_JOURNAL),
    nodes: steps.map((s) => ({ layer: s.name, key: s.key })),
    toolVersion: o.toolVersion,
  };
}

/** Stamps not used for a month (a project gone, a command line not run again) are removed. */
const STAMP_MAX_AGE_MS = 30 * 24 * 3600 * 1000;

function removeOldStamps(dir: string): void {
  const now = Date.now();
  for (const n of readdirSync(dir)) {
    if (!/^noop-[0-9a-f]+\.json$/.test(n)) continue;
    const p = join(dir, n);
    // A stamp is rewritten by each full no-op, and its atime moves when a fast one reads it.
    const st = statSync(p);
    if (now - Math.max(st.mtimeMs, st.atimeMs) > STAMP_MAX_AGE_MS || !/^noop-[0-9a-f]{16}\.json$/.test(n)) rmSync(p, { force: true });
  }
}
