#!/usr/bin/env node
/**
 * Bundles the CLI into one CommonJS file, dist/bundle/stacker.cjs: tsc's dist/src/cli/main.js and
 * everything it imports, dependencies included (better-sqlite3's JavaScript too; its compiled
 * addon is loaded from node_modules). bin/stacker.js runs it. Part of `npm run build`, after tsc.
 *
 * Why: most of a no-op `stacker build` went to loading modules: resolving, reading and compiling
 * ~100 files. One file is read once, and bin/stacker.js compiles it with a V8 code cache (which
 * only works for scripts, hence CommonJS rather than ESM). Modules loaded lazily in the sources
 * (`await import(...)`) become functions in the bundle that run on first use, so what a command
 * does not need is never executed. dist/src stays: the tests import modules one by one.
 *
 * The output is ASCII only, so bin/stacker.js can decode it as latin1: exact, and much faster than
 * UTF-8 decoding of a megabyte.
 *
 * Usage: node scripts/bundle.mjs [--outfile FILE]   (default dist/bundle/stacker.cjs)
 */
import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outfile = args[0] === '--outfile' && args[1] !== undefined ? resolve(args[1]) : join(root, 'dist', 'bundle', 'stacker.cjs');

rmSync(outfile, { force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['dist/src/cli/main.js'],
  outfile,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Modules find files of the package (cache/migrations, the native addon, better-sqlite3's
  // addon) relative to import.meta.url: in the bundle, that is the bundle's own URL.
  define: { 'import.meta.url': 'importMetaUrl' },
  inject: [join(root, 'scripts', 'bundle-import-meta.mjs')],
  // better-sqlite3 is always given its addon's path (cache/build-index.ts), so it never loads
  // `bindings`, which could not find the addon from the bundle anyway.
  external: ['bindings', 'undici'],
  // Whitespace and comments only (names stay, so stack traces still read): 1.16 -> 0.84 MB,
  // which every process reads and makes a string of (~4 ms less, mostly page faults).
  minifyWhitespace: true,
  logLevel: 'warning',
});

// esbuild escapes non-ASCII characters except in regular expression literals; escape those too
// (\uXXXX means the same character there, and in strings, templates and comments).
const text = readFileSync(outfile, 'utf8');
const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
if (ascii !== text) writeFileSync(outfile, ascii);
new Script(ascii, { filename: outfile }); // still valid JavaScript (throws otherwise)
