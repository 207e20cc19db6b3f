import type { Database } from 'better-sqlite3';

// The node's one SQLite file (shard/DESIGN.md "Persistent state"). The schema
// carries a version in `meta`; `migrate` runs one step per version so an old
// file is upgraded in place and a newer file is refused instead of misread.

export const SCHEMA_VERSION = 2;

const STEPS: ReadonlyArray<string> = [
  // 0 → 1: the initial layout.
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE dbs (name TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
  -- rowid doubles as the docs_fts rowid, so it must stay stable across updates
  -- (upserts keep it; INSERT OR REPLACE would not).
  CREATE TABLE docs (
    db TEXT NOT NULL,
    id TEXT NOT NULL,
    rev TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    body TEXT NOT NULL,
    seq INTEGER NOT NULL,
    parent_rev TEXT,
    created INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX docs_db_id ON docs (db, id);
  CREATE INDEX docs_db_seq ON docs (db, seq);
  CREATE TABLE revisions (
    db TEXT NOT NULL,
    id TEXT NOT NULL,
    rev TEXT NOT NULL,
    seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    body TEXT NOT NULL,
    parent_rev TEXT,
    created INTEGER NOT NULL,
    PRIMARY KEY (db, id, rev)
  ) WITHOUT ROWID;
  CREATE INDEX revisions_seq ON revisions (seq);
  CREATE TABLE log (
    seq INTEGER PRIMARY KEY,
    term INTEGER NOT NULL,
    op TEXT NOT NULL,
    db TEXT NOT NULL,
    id TEXT NOT NULL,
    rev TEXT NOT NULL,
    doc TEXT,
    ts INTEGER NOT NULL
  );
  CREATE TABLE rollback (
    rid INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    term INTEGER NOT NULL,
    op TEXT NOT NULL,
    db TEXT NOT NULL,
    id TEXT NOT NULL,
    rev TEXT NOT NULL,
    doc TEXT,
    ts INTEGER NOT NULL,
    rolled_back_at INTEGER NOT NULL,
    by_term INTEGER NOT NULL
  );
  CREATE VIRTUAL TABLE docs_fts USING fts5(content);
  `,
  // 1 → 2: committed reads look up a document's newest revision at or below a
  // seq; Idempotency-Key records travel with their entries; a node knows
  // whether its data dir has joined the shard (a file from version 1 has).
  `
  CREATE INDEX revisions_doc_seq ON revisions (db, id, seq);
  CREATE TABLE idempotency (
    key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT,
    ts INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX idempotency_seq ON idempotency (seq);
  ALTER TABLE log ADD COLUMN idem TEXT;
  ALTER TABLE rollback ADD COLUMN idem TEXT;
  INSERT INTO meta (key, value) SELECT 'joined', '1' WHERE EXISTS (SELECT 1 FROM meta WHERE key = 'term')
    ON CONFLICT (key) DO NOTHING;
  `,
];

/** Brings the file to SCHEMA_VERSION; returns true when it was created now. */
export function migrate(db: Database): boolean {
  const hasMeta = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).get() !== undefined;
  const current = hasMeta
    ? Number((db.prepare(`SELECT value FROM meta WHERE key = 'schemaVersion'`).get() as { value: string } | undefined)?.value ?? 0)
    : 0;
  if (current > SCHEMA_VERSION) {
    throw new Error(`data file has schema version ${current}, this build understands up to ${SCHEMA_VERSION}`);
  }
  if (current === SCHEMA_VERSION) return false;
  db.transaction(() => {
    for (let v = current; v < SCHEMA_VERSION; v++) db.exec(STEPS[v]!);
    db.prepare(`INSERT INTO meta (key, value) VALUES ('schemaVersion', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(String(SCHEMA_VERSION));
  })();
  return current === 0;
}
