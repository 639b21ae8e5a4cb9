#!/bin/sh
':' //; if [ -n "$NODE_EXTRA_CA_CERTS" ]; then STACKER_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS; export STACKER_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS; fi; exec node "$0" "$@"
'use strict';
// Run as a program, this file is a shell script first (the line above; to JavaScript it is a
// string and a comment): it moves NODE_EXTRA_CA_CERTS aside, because Node 20 parses that file
// when it starts (~40 ms for a distribution's CA bundle), then runs itself with node. The
// certificates are read on the first HTTPS request instead (src/core/http.ts).
// The stacker command (CommonJS: bin/package.json). A version gate, then the CLI: the one-file
// bundle dist/bundle/stacker.cjs made by `npm run build` (scripts/bundle.mjs), compiled with a V8
// code cache kept in the user's cache dir. Loading modules was most of a no-op build's time.
// tsc's output (dist/src) runs instead when the bundle is missing or older than it (tsc alone was
// run since the last `npm run build`), and with --debug, for stack traces that point at src/.
const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  process.stderr.write(`stacker needs Node.js 20 or newer (this is ${process.version})\n`);
  process.exit(1);
}

const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const bundle = path.join(dist, 'bundle', 'stacker.cjs');

function mtimeOf(file) {
  try {
    return fs.statSync(file, { bigint: true }).mtimeNs;
  } catch {
    return undefined;
  }
}

/** Whether loadCli runs the bundle (not tsc's newer output, nor for --debug). */
function bundleChosen() {
  const built = mtimeOf(bundle);
  const compiled = mtimeOf(path.join(dist, 'src', 'cli', 'main.js'));
  return built !== undefined && (compiled === undefined || (built >= compiled && !process.argv.includes('--debug')));
}

async function loadCli() {
  const compiled = mtimeOf(path.join(dist, 'src', 'cli', 'main.js'));
  if (mtimeOf(bundle) === undefined && compiled === undefined) {
    process.stderr.write('stacker is not built: run `npm run build` in its folder\n');
    process.exit(1);
  }
  if (compiled === undefined || bundleChosen()) return runCached(bundle);
  if (process.argv.includes('--debug')) process.setSourceMapsEnabled(true);
  return import('../dist/src/cli/main.js');
}

/** The commands of src/cli/main.ts: each has a code cache of its own (see runCached). */
const COMMANDS = new Set(['build', 'recursive-build', 'publish', 'inspect', 'graph', 'why-rebuilt', 'history', 'clean', 'check', 'unpriv-setup', 'grab', 'chroot', 'exec', 'ns-pack']);

/**
 * Runs a CommonJS file like require() does, but compiled with V8's code cache for it: the cache
 * is read when present and valid for this file and this Node, and written otherwise when the
 * process ends (or becomes the builder), holding then every function that run compiled.
 *
 * One cache per command, and per side of the namespace (`ns-build` is the builder): V8 reads a
 * cache whole (~35 ms per MB here), so `why-rebuilt` or a no-op build does not load the build
 * machinery, nor `--version` anything. A cache holds what its first run compiled, which may be
 * less than the command usually runs (a no-op build parses no YAML): the second run of the
 * command adds what it compiled if that makes the cache clearly larger, then marks the cache
 * (`.checked`) so that later runs do not pay for the check (serializing the cache: ~10 ms). The
 * first `build` that builds layers in its own process saves its cache again (`.built`): the build
 * machinery is in it from then on.
 */
function runCached(file) {
  const vm = require('node:vm');
  const { createRequire } = require('node:module');
  const command = process.argv.slice(2).find((a) => COMMANDS.has(a)) ?? 'none';
  const role = `${process.env.STACKER_IN_NAMESPACE === '1' ? 'ns-' : ''}${command === 'recursive-build' ? 'build' : command}`;
  const cacheFile = codeCacheFile(file, role);
  let cached;
  const seen = cacheFile !== undefined ? fileStamp(cacheFile) : undefined;
  if (seen !== undefined) {
    try {
      cached = fs.readFileSync(cacheFile);
    } catch {}
  }
  // The bundle is ASCII only (scripts/bundle.mjs makes sure), so latin1 decoding is exact.
  const source = fs.readFileSync(file).latin1Slice();
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapped, { filename: file, cachedData: cached });
  const checked = `${cacheFile}.checked`;
  let save;
  if (cacheFile !== undefined && (cached === undefined || script.cachedDataRejected)) {
    save = () => {
      // A cache another stacker wrote meanwhile is left in place.
      if (fileStamp(cacheFile) === seen) writeCodeCache(cacheFile, script);
    };
  } else if (cacheFile !== undefined && !fs.existsSync(checked)) {
    save = () => {
      const data = script.createCachedData();
      if (data.length > cached.length * 1.1) writeCodeCache(cacheFile, script, data);
      try {
        fs.writeFileSync(checked, '');
      } catch {}
    };
  } else if (cacheFile !== undefined && role === 'build' && !fs.existsSync(`${cacheFile}.built`)) {
    // A build that builds layers in its own process (src/engine/outside.ts) runs the build
    // machinery, which the runs that made the cache may not have (a no-op, or a build handed to a
    // builder inside the namespace): the first such build saves what it compiled, once.
    save = () => {
      if (builtHere && fileStamp(cacheFile) === seen) writeCodeCache(cacheFile, script);
    };
  }
  // Emitted by src/engine/build.ts when it builds layers in this process.
  let builtHere = false;
  process.once('stacker:built-here', () => {
    builtHere = true;
  });
  if (save !== undefined) {
    // 'stacker:exec' is emitted by a planner about to become the builder (src/engine/build.ts):
    // exit handlers do not run across an exec.
    let saved = false;
    const once = () => {
      if (saved) return;
      saved = true;
      try {
        save();
        if (builtHere && fs.existsSync(cacheFile)) fs.writeFileSync(`${cacheFile}.built`, '');
      } catch {} // a cache that cannot be written is not an error of the command
    };
    process.once('exit', once);
    process.once('stacker:exec', once);
  }
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  return module.exports;
}

/**
 * `<cache dir>/stacker/<checkout>-<bundle identity>-<role>.v8cache`, where the cache dir is
 * $XDG_CACHE_HOME or ~/.cache. The bundle's inode, size and mtime name the exact file the cache
 * was made from (V8 itself checks the Node version and flags, and only the source's length).
 */
function codeCacheFile(file, role) {
  const home = cacheHome();
  if (home === undefined) return undefined;
  const st = fs.statSync(file, { bigint: true });
  return path.join(home, 'stacker', `${checkoutId(file)}-${st.ino}-${st.size}-${st.mtimeNs}-${role}.v8cache`);
}

/** A short id of the bundle's path (FNV-1a), so one checkout's new caches can replace its old ones. */
function checkoutId(file) {
  let h = 0x811c9dc5;
  for (let i = 0; i < file.length; i++) h = Math.imul(h ^ file.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** The file's size and change time, or undefined when it does not exist. */
function fileStamp(file) {
  try {
    const st = fs.statSync(file, { bigint: true });
    return `${st.size}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}

/**
 * Writes a cache (atomically) and removes what it replaces: its `.checked` and `.built` marks, and the caches
 * (and marks) this checkout made from other builds of the bundle.
 */
function writeCodeCache(cacheFile, script, data = script.createCachedData()) {
  const dir = path.dirname(cacheFile);
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, cacheFile);
    fs.rmSync(`${cacheFile}.checked`, { force: true });
    fs.rmSync(`${cacheFile}.built`, { force: true });
    const name = path.basename(cacheFile);
    const checkout = `${name.split('-')[0]}-`;
    const identity = `${name.split('-').slice(0, 4).join('-')}-`; // <checkout>-<ino>-<size>-<mtime>-
    for (const f of fs.readdirSync(dir)) {
      if (f.startsWith(checkout) && !f.startsWith(identity) && /\.v8cache(\.checked|\.built)?$/.test(f)) fs.rmSync(path.join(dir, f), { force: true });
    }
  } catch {
    try {
      fs.rmSync(tmp, { force: true }); // an unwritable cache dir: run uncached
    } catch {}
  }
}

/**
 * A `build` that would again be a no-op, answered from the stamp the last no-op of the same
 * command line left (src/engine/noop-stamp.ts says what it holds and when one is written),
 * without loading the CLI: the same command line, working directory, environment, stacker and
 * Node (`who`, `tool`); no build holding the lock, and a stacker dir a build could write; every
 * input file with the same stat data (`files`), the stacker dir and its index the same (`ids`). Then it prints what that no-op printed and records the build
 * in the stacker dir's history journal (imported into the index by the next command that opens
 * it). Otherwise (false) the CLI runs as usual, and writes a new stamp if it finds a no-op.
 * STACKER_NO_STAMP=1 turns both off.
 */
function fastNoop(args) {
  const home = cacheHome();
  // Only the bundle is stamped: loadCli runs tsc's output instead when that is newer.
  if (!args.includes('build') || process.env.STACKER_NO_STAMP === '1' || home === undefined || !bundleChosen()) return false;
  const crypto = require('node:crypto');
  const sha = (text) => crypto.createHash('sha256').update(text).digest('hex');
  const tuple = (p, stat) => {
    try {
      const st = stat(p, { bigint: true });
      // ownedStatTuple of src/fingerprint/stat-cache.ts, which the stamp was written with.
      return [BigInt.asIntN(64, st.dev), BigInt.asIntN(64, st.ino), st.size, st.mtimeNs, st.ctimeNs, st.mode, st.uid, st.gid].join(':');
    } catch {
      return undefined;
    }
  };
  const identity = (p) => {
    try {
      const st = fs.statSync(p, { bigint: true });
      return `${st.dev}:${st.ino}:${st.birthtimeNs}`;
    } catch {
      return undefined;
    }
  };
  // The command line, directory and environment, and the stacker and Node that run them: as
  // digests (the stamp holds no argument or variable: they may be secrets).
  const env = Object.entries(process.env).filter(([k]) => k !== '_' && k !== 'OLDPWD' && !k.startsWith('STACKER_NOOP_'));
  env.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  const where = JSON.stringify([process.cwd(), args]);
  const who = sha(`${where}\n${JSON.stringify(env)}`);
  const tool = [tuple(bundle, fs.statSync), process.version, process.versions.zlib, process.arch, process.execPath].join('|');
  const file = path.join(home, 'stacker', `noop-${sha(where).slice(0, 16)}.json`);
  // For the CLI, should this turn out not to be a no-op: where to write the stamp, and for what.
  process.env.STACKER_NOOP_STAMP = JSON.stringify({ file, who, tool });
  let s;
  try {
    s = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
  const started = Date.now();
  let same = false;
  try {
    const stackerDir = path.dirname(s.lock);
    fs.accessSync(stackerDir, fs.constants.W_OK); // a full build would fail to take the lock
    same = s.v === 3 && s.who === who && s.tool === tool && !fs.existsSync(s.lock)
      && s.files.every(([p, t]) => tuple(p, fs.lstatSync) === t)
      && s.ids.every(([p, id]) => identity(p) === id)
      && typeof s.out === 'string' && typeof s.journal === 'string' && Array.isArray(s.nodes);
  } catch {} // a stamp not of this shape: the full path, which replaces it
  if (!same) return false;
  process.stdout.write(s.out);
  const finished = Date.now();
  const line = `${JSON.stringify({
    startedAt: started, finishedAt: finished, argv: process.argv.slice(1), toolVersion: s.toolVersion, pid: process.pid,
    hostname: require('node:os').hostname(), nodes: s.nodes,
    summary: { built: 0, cached: s.nodes.length, failed: 0, notRun: 0, durationMs: finished - started },
  })}\n`;
  appendJournal(s.journal, line);
  return true;
}

/**
 * Appends one line to the history journal. An importer renames the journal before reading it: if
 * that happened while this wrote, the line goes to the new journal too (importing skips a build
 * it already has). Best effort: a lost line loses a no-op from `stacker history`, nothing else.
 */
function appendJournal(journal, line) {
  try {
    for (let i = 0; i < 3; i++) {
      const fd = fs.openSync(journal, 'a', 0o644);
      let ino;
      try {
        fs.writeSync(fd, line);
        ino = fs.fstatSync(fd).ino;
      } finally {
        fs.closeSync(fd);
      }
      let now;
      try {
        now = fs.statSync(journal).ino;
      } catch {}
      if (now === ino) return;
    }
  } catch {}
}

function cacheHome() {
  const home = process.env.XDG_CACHE_HOME || (process.env.HOME ? path.join(process.env.HOME, '.cache') : '');
  return path.isAbsolute(home) ? home : undefined;
}

if (!fastNoop(process.argv.slice(2))) loadCli().then(({ main }) => main(process.argv.slice(2)));
