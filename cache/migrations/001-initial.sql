-- stacker build index, schema version 1.
--
-- Applied by src/cache/migrations.ts inside one transaction, which then sets
-- PRAGMA user_version = 1. Never edit a released migration: add 002-*.sql instead.
--
-- Conventions: digests are TEXT `sha256:<hex>`; times are INTEGER milliseconds since the Unix
-- epoch unless the column name ends in _ns (nanoseconds); JSON columns hold compact JSON text.

-- Every input document ever keyed: the canonical JSON whose sha256 is `key`. Content-addressed,
-- so a document is stored once however many builds or results refer to it. It is separate from
-- `nodes` because a document exists before (and even without) a result: a node that failed to
-- build still has a document, and `why-rebuilt --build N` must be able to diff it.
CREATE TABLE documents (
  key        TEXT    PRIMARY KEY,            -- sha256 of `doc`, i.e. the node's cache key
  layer      TEXT    NOT NULL,               -- layer name when first keyed (for humans/queries)
  doc        TEXT    NOT NULL,               -- canonical JSON, byte-exact input of the key
  created_at INTEGER NOT NULL
) STRICT;

-- What a key produced. A row here is a cache entry: the last step of a successful node build.
CREATE TABLE nodes (
  key             TEXT    PRIMARY KEY REFERENCES documents(key),
  layer           TEXT    NOT NULL,
  manifest_digest TEXT,                      -- NULL when no image manifest was written
  config_digest   TEXT,
  layers_json     TEXT    NOT NULL,          -- JSON array of layer descriptors (own + inherited, in order)
  snapshot_json   TEXT    NOT NULL,          -- JSON array of diff_ids: the rootfs chain, bottom first
  build_only      INTEGER NOT NULL DEFAULT 0 CHECK (build_only IN (0, 1)),
  extra_json      TEXT,                      -- JSON object for engine data without its own column
  created_at      INTEGER NOT NULL
) STRICT;
-- latestForLayer(): the most recent result of a layer name.
CREATE INDEX nodes_by_layer ON nodes (layer, created_at DESC);
CREATE INDEX nodes_by_manifest ON nodes (manifest_digest) WHERE manifest_digest IS NOT NULL;

-- Per-entry listings of directory imports, keyed by the tree digest, so `why-rebuilt` can name the
-- file inside a directory that changed. `entries` is an opaque compressed blob written by
-- src/fingerprint/tree-digest.ts (packEntries).
CREATE TABLE trees (
  digest     TEXT    PRIMARY KEY,
  entries    BLOB    NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

-- One row per `stacker build` invocation (history, `why-rebuilt --build N`, `stacker history`).
CREATE TABLE builds (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at   INTEGER NOT NULL,
  finished_at  INTEGER,
  outcome      TEXT    NOT NULL DEFAULT 'running'
               CHECK (outcome IN ('running', 'success', 'failed', 'interrupted')),
  argv_json    TEXT    NOT NULL,             -- JSON array of the command line arguments
  tool_version TEXT    NOT NULL,
  pid          INTEGER NOT NULL,             -- to tell a live 'running' build from a killed one
  hostname     TEXT    NOT NULL,
  summary_json TEXT                          -- JSON object (counts, totals) set at finish
) STRICT;

-- What each build did with each layer it considered.
CREATE TABLE build_nodes (
  build_id    INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
  layer       TEXT    NOT NULL,
  key         TEXT,                          -- NULL when the key could not be computed
  prev_key    TEXT,                          -- the key it was compared against (previous result), if any
  status      TEXT    NOT NULL CHECK (status IN ('cached', 'built', 'failed', 'skipped')),
  reason      TEXT,                          -- first reason, one line, as shown by `build`
  reason_json TEXT,                          -- the structured reason(s)
  duration_ms INTEGER,
  seq         INTEGER NOT NULL,              -- order in which rows were recorded within the build
  PRIMARY KEY (build_id, layer)
) STRICT, WITHOUT ROWID;
CREATE INDEX build_nodes_by_layer ON build_nodes (layer, build_id DESC);

-- Stat cache: content digests of regular files, trusted only while the stat tuple matches and
-- the row is not "racily clean" (see src/fingerprint/stat-cache.ts). Local machine state, never
-- part of a key, so absolute paths are fine here. dev/ino are stored as signed 64-bit images of
-- unsigned values.
CREATE TABLE stat_cache (
  path           TEXT    PRIMARY KEY,
  dev            INTEGER NOT NULL,
  ino            INTEGER NOT NULL,
  size           INTEGER NOT NULL,
  mtime_ns       INTEGER NOT NULL,
  ctime_ns       INTEGER NOT NULL,
  mode           INTEGER NOT NULL,
  digest         TEXT    NOT NULL,            -- sha256 of the content only
  recorded_at_ns INTEGER NOT NULL             -- wall clock taken before the lstat of this row
) STRICT, WITHOUT ROWID;

-- docker:// and oci: bases resolved by tag: the manifest digest a reference last resolved to.
CREATE TABLE bases (
  ref         TEXT    PRIMARY KEY,
  digest      TEXT    NOT NULL,
  resolved_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
