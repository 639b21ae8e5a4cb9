/**
 * bin/stacker.js is a shell script when run as a program and plain JavaScript when node runs it:
 * as a program it moves NODE_EXTRA_CA_CERTS to STACKER_EXTRA_CA_CERTS (Node would parse the
 * certificates at start-up) and runs itself with node. Checked with a copy of the launcher beside
 * a stand-in bundle that prints what it was started with. And core/http.ts's userEnv, which gives
 * the user's programs the variable back under its own name.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFERRED_CA_ENV, userEnv } from '../../src/core/http.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe('the launcher', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stacker-launcher-'));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist', 'bundle'), { recursive: true });
  copyFileSync(join(repo, 'bin', 'stacker.js'), join(dir, 'bin', 'stacker.js'));
  copyFileSync(join(repo, 'bin', 'package.json'), join(dir, 'bin', 'package.json'));
  writeFileSync(join(dir, 'dist', 'bundle', 'stacker.cjs'),
    'exports.main = (argv) => console.log(JSON.stringify({ argv, node: process.env.NODE_EXTRA_CA_CERTS ?? null, deferred: process.env.STACKER_EXTRA_CA_CERTS ?? null }));\n');
  const bin = join(dir, 'bin', 'stacker.js');
  const env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, XDG_CACHE_HOME: join(dir, 'cache') };
  const run = (cmd: string, args: string[], extra: Record<string, string>): unknown => {
    const r = spawnSync(cmd, args, { env: { ...env, ...extra }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  test('run as a program, it defers NODE_EXTRA_CA_CERTS and passes every argument', () => {
    assert.deepEqual(run(bin, ['build', 'a b', '--x=$HOME', ''], { NODE_EXTRA_CA_CERTS: '/etc/my ca.pem' }), { argv: ['build', 'a b', '--x=$HOME', ''], node: null, deferred: '/etc/my ca.pem' });
    assert.deepEqual(run(bin, ['inspect'], {}), { argv: ['inspect'], node: null, deferred: null });
  });

  test('run by node, it is JavaScript and leaves the environment alone', () => {
    assert.deepEqual(run(process.execPath, [bin, 'build'], { NODE_EXTRA_CA_CERTS: '/etc/ca.pem' }), { argv: ['build'], node: '/etc/ca.pem', deferred: null });
  });

  test('a code cache that cannot be written is no error of the command', () => {
    const cache = join(dir, 'broken-cache');
    mkdirSync(cache);
    writeFileSync(join(cache, 'stacker'), 'a file where the cache dir should be');
    assert.deepEqual(run(bin, ['inspect'], { XDG_CACHE_HOME: cache }), { argv: ['inspect'], node: null, deferred: null });
  });

  test('userEnv gives NODE_EXTRA_CA_CERTS back under its name', () => {
    assert.deepEqual(userEnv({ PATH: '/bin', [DEFERRED_CA_ENV]: '/ca.pem' }), { PATH: '/bin', NODE_EXTRA_CA_CERTS: '/ca.pem' });
    const plain = { PATH: '/bin' };
    assert.equal(userEnv(plain), plain);
  });

  test.after(() => rmSync(dir, { recursive: true, force: true }));
});
