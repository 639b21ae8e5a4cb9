import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { StackerError } from '../core/errors.js';

/** One schema step: `cache/migrations/NNN-name.sql` brings the schema to `version` NNN. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The `cache/migrations` folder of this package. Found by walking up from this module (it sits at
 * `dist/src/cache/` when built, `src/cache/` when run from source) to the first folder holding
 * both `package.json` and `cache/migrations`, so it works from dist/, from source and when the
 * package is installed elsewhere (`cache/` must then be in the package's `files`).
 */
export function defaultMigrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'cache', 'migrations');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new StackerError('STACKER_E_INDEX_MIGRATIONS', 'cannot find cache/migrations of the stacker package', {
        hint: 'the installation is incomplete: reinstall stacker',
      });
    }
    dir = parent;
  }
}

const FILE_RE = /^(\d{3,})-([a-z0-9-]+)\.sql$/;

/** Reads and validates the migrations: numbered 1..N without gaps or duplicates. */
export function loadMigrations(dir: string): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = FILE_RE.exec(file);
    if (m === null) continue;
    out.push({ version: Number(m[1]), name: file, sql: readFileSync(join(dir, file), 'utf8') });
  }
  out.sort((a, b) => a.version - b.version);
  out.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations in ${dir}: expected version ${i + 1}, found ${m.name}`);
  });
  if (out.length === 0) throw new Error(`no migrations in ${dir}`);
  return out;
}

/**
 * Brings the database to the newest schema. Each migration runs in its own IMMEDIATE
 * transaction that also sets `PRAGMA user_version` (stored in the database header, so it commits
 * or rolls back with the schema change). The version is re-read inside the write lock, so two
 * processes opening a fresh index at once apply each migration exactly once.
 * @throws StackerError STACKER_E_INDEX_TOO_NEW when the index comes from a newer stacker.
 */
export function migrate(db: Database.Database, migrations: Migration[], dbPath: string): void {
  const latest = migrations.length;
  const version = (): number => db.pragma('user_version', { simple: true }) as number;
  const current = version();
  if (current > latest) throw tooNew(dbPath, current, latest);
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      const v = version();
      if (v > latest) throw tooNew(dbPath, v, latest);
      if (v >= m.version) return;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}

function tooNew(dbPath: string, found: number, known: number): StackerError {
  return new StackerError(
    'STACKER_E_INDEX_TOO_NEW',
    `the build index ${dbPath} has schema version ${found}; this stacker knows versions up to ${known}`,
    { hint: 'use a newer stacker, or remove the index (the cache is rebuilt; `stacker clean` does it)' },
  );
}
