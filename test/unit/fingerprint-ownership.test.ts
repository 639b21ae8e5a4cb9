import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatCacheView } from '../../src/fingerprint/stat-cache.js';
import { digestInput } from '../../src/fingerprint/tree-digest.js';

test('ownership: false leaves owners out of the digest, but not content or modes', { skip: process.getuid?.() !== 0 ? 'needs root to chown' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'own-'));
  mkdirSync(join(dir, 'd'));
  writeFileSync(join(dir, 'd', 'f'), 'x');
  const digest = (ownership: boolean) => digestInput(dir, new StatCacheView(), { ownership }).digest;
  const [withOwners, without] = [digest(true), digest(false)];
  chownSync(join(dir, 'd', 'f'), 4242, 4242);
  assert.notEqual(digest(true), withOwners);
  assert.equal(digest(false), without);
  writeFileSync(join(dir, 'd', 'f'), 'y');
  assert.notEqual(digest(false), without);
});
