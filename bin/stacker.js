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

async function loadCli() {
  const built = mtimeOf(bundle);
  const compiled = mtimeOf(path.join(dist, 'src', 'cli', 'main.js'));
  if (built === undefined && compiled === undefined) {
    process.stderr.write('stacker is not built: run `npm run build` in its folder\n');
    process.exit(1);
  }
  if (compiled === undefined || (built !== undefined && built >= compiled && !process.argv.includes('--debug'))) return runCached(bundle);
  if (process.argv.includes('--debug')) process.setSourceMapsEnabled(true);
  return import('../dist/src/cli/main.js');
}

/**
 * Runs a CommonJS file like require() does, but compiled with V8's code cache for it: the cache
 * is read when present and valid for this file and this Node, and written when the process ends
 * otherwise, holding then every function that run compiled.
 */
function runCached(file) {
  const vm = require('node:vm');
  const { createRequire } = require('node:module');
  const cacheFile = codeCacheFile(file);
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
  const builder = process.env.STACKER_IN_NAMESPACE === '1';
  const mark = `${cacheFile}.built`;
  if (cacheFile !== undefined && (cached === undefined || script.cachedDataRejected)) {
    process.once('exit', () => {
      // A cache written meanwhile (by the builder this planner started) is left in place.
      if (fileStamp(cacheFile) !== seen) return;
      writeCodeCache(cacheFile, script);
      if (builder) markBuilt(mark);
    });
  } else if (cacheFile !== undefined && builder && !fs.existsSync(mark)) {
    // The cache holds what its first run compiled (often a no-op or `clean`): the first builder,
    // which runs the build machinery, adds that if it has compiled clearly more, and marks the
    // cache so that later builders do not pay for the check (serializing the cache: ~16 ms).
    process.once('exit', () => {
      const data = script.createCachedData();
      if (data.length > cached.length * 1.1) writeCodeCache(cacheFile, script, data);
      markBuilt(mark);
    });
  }
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  return module.exports;
}

/**
 * `<cache dir>/stacker/<checkout>-<bundle identity>.v8cache`, where the cache dir is
 * $XDG_CACHE_HOME or ~/.cache. The bundle's inode, size and mtime name the exact file the cache
 * was made from (V8 itself checks the Node version and flags, and only the source's length).
 */
function codeCacheFile(file) {
  const home = process.env.XDG_CACHE_HOME || (process.env.HOME ? path.join(process.env.HOME, '.cache') : '');
  if (!path.isAbsolute(home)) return undefined;
  const st = fs.statSync(file, { bigint: true });
  return path.join(home, 'stacker', `${checkoutId(file)}-${st.ino}-${st.size}-${st.mtimeNs}.v8cache`);
}

/** A short id of the bundle's path (FNV-1a), so one checkout's new cache can replace its old ones. */
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

/** Marks a code cache as holding a builder's functions (see runCached). */
function markBuilt(mark) {
  try {
    fs.writeFileSync(mark, '');
  } catch {}
}

function writeCodeCache(cacheFile, script, data = script.createCachedData()) {
  const dir = path.dirname(cacheFile);
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, cacheFile);
    const prefix = `${path.basename(cacheFile).split('-')[0]}-`;
    fs.rmSync(`${cacheFile}.built`, { force: true }); // a new cache is checked again by a builder
    for (const f of fs.readdirSync(dir)) {
      const cache = f.endsWith('.built') ? f.slice(0, -'.built'.length) : f;
      if (cache.startsWith(prefix) && cache.endsWith('.v8cache') && cache !== path.basename(cacheFile)) fs.rmSync(path.join(dir, f), { force: true });
    }
  } catch {
    fs.rmSync(tmp, { force: true }); // an unwritable cache dir: run uncached
  }
}

loadCli().then(({ main }) => main(process.argv.slice(2)));
