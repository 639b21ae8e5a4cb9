import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { StackerError } from '../core/errors.js';
import { sha256Digest } from '../core/digest.js';
import type { Digest } from '../core/digest.js';
import { defaultMigrationsDir, loadMigrations, migrate } from './migrations.js';
import { StatCacheStore } from './stat-cache-store.js';
import { loadTreeStamps, saveTreeStamps } from './tree-stamp-file.js';
import { NODE_COLUMNS, toBuild, toBuildNode, toNode } from './rows.js';
import type { BuildNodeRow, BuildRow, NodeRow } from './rows.js';
import type {
  BaseRecord,
  BuildInfo,
  BuildNodeRecord,
  BuildOutcome,
  BuildRecord,
  CachedStat,
  NewBuildNode,
  NewNodeRecord,
  NodeRecord,
  OpenOptions,
  StatRow,
  TreeStamp,
} from './types.js';

/**
 * better-sqlite3's compiled addon, named explicitly: otherwise better-sqlite3 loads the `bindings`
 * package to search a dozen places for it, starting from the caller's file (which, in the
 * bundle, is not inside better-sqlite3).
 */
function sqliteAddon(): string {
  const pkg = createRequire(import.meta.url).resolve('better-sqlite3/package.json');
  return join(dirname(pkg), 'build', 'Release', 'better_sqlite3.node');
}

/**
 * The SQLite index of a stacker dir (`<stacker-dir>/index.db`): cache key → input document and
 * result, build history, stat cache, resolved bases. The only user of better-sqlite3.
 *
 * Pragmas: WAL (readers such as `graph` never block a build), busy_timeout 10 s (a second process
 * waits instead of failing), foreign_keys on, synchronous=NORMAL for every commit. NORMAL in WAL
 * mode never corrupts the database; a power loss (not a process crash: the WAL is in the page
 * cache by then) may roll back the last commits. That is the safe direction for a cache written
 * last: outputs are fsynced before `recordNode`, so a lost record only costs a rebuild and can
 * never point at missing blobs. FULL would buy nothing but an fsync per node.
 *
 * Every call is synchronous; statements are prepared once per SQL text.
 */
export class BuildIndex {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly statStore: StatCacheStore;

  private constructor(db: Database.Database, path: string) {
    this.db = db;
    this.path = path;
    this.statStore = new StatCacheStore(db);
  }

  /** Opens (creating and migrating if needed) `<stackerDir>/index.db`. */
  static open(stackerDir: string, opts: OpenOptions = {}): BuildIndex {
    mkdirSync(stackerDir, { recursive: true });
    const path = join(stackerDir, 'index.db');
    const migrations = loadMigrations(opts.migrationsDir ?? defaultMigrationsDir());
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { nativeBinding: sqliteAddon() });
      // One call for the four (each db.pragma prepares a statement of its own).
      db.exec('PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
      migrate(db, migrations, path);
      const index = new BuildIndex(db, path);
      index.importJournal(join(stackerDir, HISTORY_JOURNAL));
      return index;
    } catch (e) {
      db?.close();
      if (e instanceof StackerError) throw e;
      const code = (e as { code?: unknown }).code;
      if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
        throw new StackerError('STACKER_E_INDEX_CORRUPT', `the build index ${path} is damaged (${String(code)})`, {
          hint: 'remove it (the cache is rebuilt; `stacker clean` does it)',
          cause: e,
        });
      }
      if (code === 'SQLITE_BUSY') {
        throw new StackerError('STACKER_E_INDEX_BUSY', `the build index ${path} stayed locked for 10 s`, {
          hint: 'another stacker process is using this stacker dir',
          cause: e,
        });
      }
      throw e;
    }
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  // ---- nodes ----

  lookup(key: string): NodeRecord | undefined {
    const row = this.stmt(`SELECT ${NODE_COLUMNS} FROM nodes n JOIN documents d ON d.key = n.key WHERE n.key = ?`).get(
      key,
    ) as NodeRow | undefined;
    return row && toNode(row);
  }

  /**
   * The records of every key that has one, in one query (planning a whole graph). With
   * `document: false` their input documents are left out (`inputDocument` is ''): what a build
   * needs of its cache hits.
   */
  lookupMany(keys: readonly string[], opts: { document?: boolean } = {}): Map<string, NodeRecord> {
    const out = new Map<string, NodeRecord>();
    if (keys.length === 0) return out;
    const columns = opts.document === false ? NODE_COLUMNS.replace('d.doc', "'' AS doc") : NODE_COLUMNS;
    // The keys drive the join (CROSS JOIN keeps that order): looked up by the key index. Left to
    // the planner, stale statistics made it scan every node (~7 ms for 300 nodes).
    const rows = this.stmt(
      `SELECT ${columns} FROM json_each(?) j CROSS JOIN nodes n ON n.key = j.value JOIN documents d ON d.key = n.key`,
    ).all(JSON.stringify(keys)) as NodeRow[];
    for (const row of rows) out.set(row.key, toNode(row));
    return out;
  }

  /**
   * Which of `keys` have a result, in one query. What planning needs, where `lookupMany` would
   * also load every record's input document (most of a 200-layer no-op's index time).
   */
  knownKeys(keys: readonly string[]): Set<string> {
    if (keys.length === 0) return new Set();
    const rows = this.stmt(
      `SELECT n.key FROM json_each(?) j CROSS JOIN nodes n ON n.key = j.value JOIN documents d ON d.key = n.key`,
    ).pluck().all(JSON.stringify(keys)) as string[];
    return new Set(rows);
  }

  /** The most recent result recorded for a layer name (what `why-rebuilt` compares against). */
  latestForLayer(layer: string): NodeRecord | undefined {
    const row = this.stmt(
      `SELECT ${NODE_COLUMNS} FROM nodes n JOIN documents d ON d.key = n.key
       WHERE n.layer = ? ORDER BY n.created_at DESC, n.rowid DESC LIMIT 1`,
    ).get(layer) as NodeRow | undefined;
    return row && toNode(row);
  }

  /**
   * Records a node's result: the last step of its build, after every output is durable. One
   * transaction; re-recording a key replaces its result.
   * @throws Error when `key` is not the sha256 of `inputDocument` (a bug in the caller).
   */
  recordNode(rec: NewNodeRecord): void {
    checkKey(rec.key, rec.inputDocument);
    const now = rec.createdAt ?? Date.now();
    this.db.transaction(() => {
      this.insertDocument(rec.key, rec.layer, rec.inputDocument, now);
      this.stmt(
        `INSERT OR REPLACE INTO nodes (key, layer, manifest_digest, config_digest, layers_json, snapshot_json,
           build_only, extra_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        rec.key,
        rec.layer,
        rec.manifestDigest,
        rec.configDigest,
        JSON.stringify(rec.layers),
        JSON.stringify(rec.snapshot),
        rec.buildOnly ? 1 : 0,
        rec.extra === undefined ? null : JSON.stringify(rec.extra),
        now,
      );
    })();
  }

  /** Drops a cache entry (its document stays for history). Returns whether it existed. */
  deleteNode(key: string): boolean {
    return this.stmt('DELETE FROM nodes WHERE key = ?').run(key).changes > 0;
  }

  /** An input document by key, whether or not the key has a result. */
  getDocument(key: string): { layer: string; doc: string } | undefined {
    return this.stmt('SELECT layer, doc FROM documents WHERE key = ?').get(key) as
      | { layer: string; doc: string }
      | undefined;
  }

  private insertDocument(key: string, layer: string, doc: string, now: number): void {
    this.stmt('INSERT OR IGNORE INTO documents (key, layer, doc, created_at) VALUES (?, ?, ?, ?)').run(
      key,
      layer,
      doc,
      now,
    );
  }

  // ---- directory listings (for why-rebuilt) ----

  /** Stores a packed entry list (fingerprint `packEntries`) under its tree digest, once. */
  putTree(digest: string, packed: Uint8Array): void {
    this.stmt('INSERT OR IGNORE INTO trees (digest, entries, created_at) VALUES (?, ?, ?)').run(
      digest,
      Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength),
      Date.now(),
    );
  }

  getTree(digest: string): Buffer | undefined {
    const row = this.stmt('SELECT entries FROM trees WHERE digest = ?').get(digest) as { entries: Buffer } | undefined;
    return row?.entries;
  }

  // ---- build history ----

  startBuild(info: BuildInfo): number {
    const r = this.stmt(
      `INSERT INTO builds (started_at, argv_json, tool_version, pid, hostname) VALUES (?, ?, ?, ?, ?)`,
    ).run(info.startedAt ?? Date.now(), JSON.stringify(info.argv), info.toolVersion, info.pid ?? process.pid, info.hostname ?? hostname());
    return Number(r.lastInsertRowid);
  }

  /** recordBuildNode for many rows, in one transaction. */
  recordBuildNodes(buildId: number, rows: readonly NewBuildNode[]): void {
    this.db.transaction(() => {
      for (const row of rows) this.recordBuildNode(buildId, row);
    })();
  }

  /** Records (or updates) what build `buildId` did with a layer; one transaction. */
  recordBuildNode(buildId: number, row: NewBuildNode): void {
    if (row.inputDocument !== undefined) {
      if (row.key === undefined) throw new Error('recordBuildNode: inputDocument without key');
      checkKey(row.key, row.inputDocument);
    }
    this.db.transaction(() => {
      if (row.inputDocument !== undefined && row.key !== undefined) {
        this.insertDocument(row.key, row.layer, row.inputDocument, Date.now());
      }
      this.stmt(
        `INSERT INTO build_nodes (build_id, layer, key, prev_key, status, reason, reason_json, duration_ms, seq)
         VALUES (@buildId, @layer, @key, @prevKey, @status, @reason, @reasonJson, @durationMs,
                 (SELECT COALESCE(MAX(seq), 0) + 1 FROM build_nodes WHERE build_id = @buildId))
         ON CONFLICT (build_id, layer) DO UPDATE SET key = excluded.key, prev_key = excluded.prev_key,
           status = excluded.status, reason = excluded.reason, reason_json = excluded.reason_json,
           duration_ms = excluded.duration_ms`,
      ).run({
        buildId,
        layer: row.layer,
        key: row.key ?? null,
        prevKey: row.prevKey ?? null,
        status: row.status,
        reason: row.reason ?? null,
        reasonJson: row.reasonDetail === undefined ? null : JSON.stringify(row.reasonDetail),
        durationMs: row.durationMs === undefined ? null : Math.round(row.durationMs),
      });
    })();
  }

  /**
   * Moves the builds that bin/stacker.js answered from a no-op stamp (it cannot open the index
   * without loading the CLI, which is what it avoids) from the history journal into the history,
   * in order. The journal is renamed first, so lines appended meanwhile start a new one; a build
   * already recorded (same start, pid and host: a line appended twice, or an import that crashed
   * before removing its file) is skipped, and so is a line that does not parse. Best effort.
   */
  importJournal(journal: string): void {
    const dir = dirname(journal);
    const base = basename(journal);
    let names: string[];
    try {
      // Another importer's file is left to it while it lives (its name holds its pid).
      const adoptable = (n: string): boolean => {
        const pid = Number(n.slice(base.length + 1).split('-')[0]);
        return !Number.isSafeInteger(pid) || pid === process.pid || !alive(pid);
      };
      names = readdirSync(dir).filter((n) => n === base || (n.startsWith(`${base}.`) && n.endsWith('.importing') && adoptable(n)));
    } catch {
      return;
    }
    // Leftovers of an import that stopped first (older), then the journal itself.
    names.sort((x, y) => (x === base ? 1 : y === base ? -1 : x.localeCompare(y)));
    const known = this.stmt('SELECT 1 FROM builds WHERE started_at = ? AND pid = ? AND hostname = ?').pluck();
    // Checked and written in one write transaction: two importers cannot both find a build new.
    const importOne = this.db.transaction((b: JournalBuild) => {
      if (known.get(b.startedAt, b.pid, b.hostname) !== undefined) return;
      const id = this.startBuild(b);
      this.recordBuildNodes(id, b.nodes.map((n) => ({ layer: n.layer, key: n.key as Digest, status: 'cached' as const })));
      this.stmt('UPDATE builds SET finished_at = ?, outcome = ?, summary_json = ? WHERE id = ?').run(b.finishedAt, 'success', JSON.stringify(b.summary), id);
    });
    for (const name of names) {
      let file = join(dir, name);
      try {
        if (name === base) {
          const moved = `${journal}.${process.pid}-${Date.now()}.importing`;
          renameSync(file, moved);
          file = moved;
        }
        for (const text of readFileSync(file, 'utf8').split('\n')) {
          const b = parseJournalLine(text);
          if (b === undefined) continue;
          try {
            importOne.immediate(b);
          } catch {
            // A line the index refuses (a key it does not know) is dropped.
          }
        }
        rmSync(file, { force: true });
      } catch {
        // Left for the next open.
      }
    }
  }

  finishBuild(id: number, outcome: Exclude<BuildOutcome, 'running'>, summary?: unknown): void {
    this.stmt('UPDATE builds SET finished_at = ?, outcome = ?, summary_json = ? WHERE id = ?').run(
      Date.now(),
      outcome,
      summary === undefined ? null : JSON.stringify(summary),
      id,
    );
  }

  /** The most recent builds first. */
  listBuilds(limit = 20): BuildRecord[] {
    const rows = this.stmt('SELECT * FROM builds ORDER BY id DESC LIMIT ?').all(limit) as BuildRow[];
    return rows.map(toBuild);
  }

  getBuild(id: number): BuildRecord | undefined {
    const row = this.stmt('SELECT * FROM builds WHERE id = ?').get(id) as BuildRow | undefined;
    return row && toBuild(row);
  }

  /** The layers of a build in the order they were recorded. */
  buildNodes(buildId: number): BuildNodeRecord[] {
    const rows = this.stmt('SELECT * FROM build_nodes WHERE build_id = ? ORDER BY seq').all(buildId) as BuildNodeRow[];
    return rows.map(toBuildNode);
  }

  // ---- bases ----

  getBase(ref: string): BaseRecord | undefined {
    const row = this.stmt('SELECT ref, digest, resolved_at FROM bases WHERE ref = ?').get(ref) as
      | { ref: string; digest: string; resolved_at: number }
      | undefined;
    return row && { ref: row.ref, digest: row.digest as Digest, resolvedAt: row.resolved_at };
  }

  putBase(ref: string, digest: Digest, resolvedAt = Date.now()): void {
    this.stmt('INSERT OR REPLACE INTO bases (ref, digest, resolved_at) VALUES (?, ?, ?)').run(ref, digest, resolvedAt);
  }

  // ---- stat cache ----

  /** Every row whose path starts with `prefix` (all rows without one), in one query. */
  loadStatCache(prefix?: string): Map<string, CachedStat> {
    return this.statStore.load(prefix);
  }

  /** The tree stamps of directory imports (kept in a file beside the index: tree-stamp-file.ts). */
  loadTreeStamps(): Map<string, TreeStamp> {
    return loadTreeStamps(dirname(this.path));
  }

  /** Adds or replaces tree stamps (pass `StatCacheView.changedTrees()`). */
  saveTreeStamps(stamps: Map<string, TreeStamp>): void {
    saveTreeStamps(dirname(this.path), stamps);
  }

  /** Upserts rows in one transaction (pass `StatCacheView.changedRows()`). */
  saveStatCache(rows: readonly StatRow[]): void {
    this.statStore.save(rows);
  }

  /** Deletes rows (pass `StatCacheView.stalePaths()`), in one transaction. */
  deleteStatRows(paths: readonly string[]): void {
    this.statStore.delete(paths);
  }

  // ---- maintenance ----

  /** Problems found by SQLite's integrity and foreign-key checks; empty when healthy. */
  checkIntegrity(): string[] {
    const problems = (this.db.pragma('integrity_check') as Array<{ integrity_check: string }>)
      .map((r) => r.integrity_check)
      .filter((s) => s !== 'ok');
    for (const fk of this.db.pragma('foreign_key_check') as Array<{ table: string; rowid: number; parent: string }>) {
      problems.push(`foreign key: ${fk.table} row ${fk.rowid} has no ${fk.parent}`);
    }
    return problems;
  }

  /** The schema version (PRAGMA user_version). */
  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  close(): void {
    if (!this.db.open) return;
    try {
      this.db.pragma('optimize');
    } catch {
      // best effort: another process may hold the write lock
    }
    this.db.close();
  }
}

function checkKey(key: string, doc: string): void {
  if (sha256Digest(doc) !== key) throw new Error(`index: key ${key} is not the sha256 of its input document`);
}


/** The history journal in the stacker dir (see importJournal; bin/stacker.js appends to it). */
export const HISTORY_JOURNAL = 'history-journal.ndjson';

interface JournalBuild {
  startedAt: number;
  finishedAt: number;
  argv: string[];
  toolVersion: string;
  pid: number;
  hostname: string;
  nodes: { layer: string; key: string }[];
  summary: unknown;
}

function parseJournalLine(text: string): JournalBuild | undefined {
  if (text.trim() === '') return undefined;
  try {
    const b = JSON.parse(text) as JournalBuild;
    const ok = Number.isSafeInteger(b.startedAt) && Number.isSafeInteger(b.finishedAt) && Number.isSafeInteger(b.pid)
      && typeof b.hostname === 'string' && typeof b.toolVersion === 'string' && Array.isArray(b.argv) && b.argv.every((a) => typeof a === 'string')
      && Array.isArray(b.nodes) && b.nodes.every((n) => typeof n?.layer === 'string' && typeof n.key === 'string');
    return ok ? b : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
