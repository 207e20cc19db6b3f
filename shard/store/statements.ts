import type { Database as Db, Statement } from 'better-sqlite3';

// Every statement the Store runs, prepared once per connection (the Store
// keeps them in a private field).

export type Statements = ReturnType<typeof prepare>;

export function prepare(db: Db) {
  const p = (sql: string): Statement => db.prepare(sql);
  return {
    allMeta: p('SELECT key, value FROM meta'),
    getMeta: p('SELECT value FROM meta WHERE key = ?'),
    setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    lastEntry: p('SELECT seq, term FROM log ORDER BY seq DESC LIMIT 1'),
    termAt: p('SELECT term FROM log WHERE seq = ?'),
    tailFrom: p('SELECT seq, term, rev FROM log WHERE seq >= ? ORDER BY seq'),
    insertLog: p('INSERT INTO log (seq, term, op, db, id, rev, doc, ts, idem) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    walPage: p('SELECT seq, term, op, db, id, rev, doc, ts, idem FROM log WHERE seq > ? ORDER BY seq LIMIT ?'),
    entriesAfter: p('SELECT seq, term, op, db, id FROM log WHERE seq > ? ORDER BY seq'),
    deleteLogAfter: p('DELETE FROM log WHERE seq > ?'),
    deleteLogUpTo: p('DELETE FROM log WHERE seq <= ?'),
    copyToRollback: p(`INSERT INTO rollback (seq, term, op, db, id, rev, doc, ts, idem, rolled_back_at, by_term)
      SELECT seq, term, op, db, id, rev, doc, ts, idem, ?, ? FROM log WHERE seq > ? ORDER BY seq`),
    // Idempotency-Key records (router/DESIGN.md "Write outcomes"): one per keyed write that wrote an entry.
    getIdempotency: p('SELECT seq, fingerprint, status, body FROM idempotency WHERE key = ?'),
    putIdempotency: p(`INSERT INTO idempotency (key, seq, fingerprint, status, body, ts) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET seq = excluded.seq, fingerprint = excluded.fingerprint, status = excluded.status, body = excluded.body, ts = excluded.ts`),
    setLogIdem: p('UPDATE log SET idem = ? WHERE seq = ?'),
    deleteIdempotencyAfter: p('DELETE FROM idempotency WHERE seq > ?'),
    deleteIdempotencyBefore: p('DELETE FROM idempotency WHERE ts < ?'),
    rollbackCount: p('SELECT count(*) AS n FROM rollback'),
    rollbackRows: p('SELECT * FROM rollback ORDER BY rid'),
    getDb: p('SELECT seq FROM dbs WHERE name = ?'),
    listDbs: p('SELECT name FROM dbs ORDER BY name'),
    insertDb: p('INSERT INTO dbs (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq'),
    deleteDb: p('DELETE FROM dbs WHERE name = ?'),
    dbCounts: p('SELECT sum(deleted = 0) AS live, sum(deleted = 1) AS dead, max(seq) AS seq FROM docs WHERE db = ?'),
    getHead: p('SELECT rowid, rev, deleted, body, seq, parent_rev, created FROM docs WHERE db = ? AND id = ?'),
    upsertDoc: p(`INSERT INTO docs (db, id, rev, deleted, body, seq, parent_rev, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (db, id) DO UPDATE SET rev = excluded.rev, deleted = excluded.deleted, body = excluded.body,
        seq = excluded.seq, parent_rev = excluded.parent_rev, created = excluded.created
      RETURNING rowid`),
    deleteDoc: p('DELETE FROM docs WHERE db = ? AND id = ?'),
    deleteDocsOfDb: p('DELETE FROM docs WHERE db = ?'),
    upsertRevision: p(`INSERT INTO revisions (db, id, rev, seq, deleted, body, parent_rev, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (db, id, rev) DO UPDATE SET seq = excluded.seq, deleted = excluded.deleted, body = excluded.body,
        parent_rev = excluded.parent_rev, created = excluded.created`),
    getRevision: p('SELECT body FROM revisions WHERE db = ? AND id = ? AND rev = ?'),
    newestRevision: p('SELECT rev, deleted, body, seq, parent_rev, created FROM revisions WHERE db = ? AND id = ? ORDER BY seq DESC LIMIT 1'),
    deleteRevisionsAfter: p('DELETE FROM revisions WHERE seq > ?'),
    deleteRevisionsOfDb: p('DELETE FROM revisions WHERE db = ?'),
    deleteRevisionsOfDoc: p('DELETE FROM revisions WHERE db = ? AND id = ?'),
    insertFts: p('INSERT INTO docs_fts (rowid, content) VALUES (?, ?)'),
    deleteFts: p('DELETE FROM docs_fts WHERE rowid = ?'),
    deleteFtsOfDb: p('DELETE FROM docs_fts WHERE rowid IN (SELECT rowid FROM docs WHERE db = ?)'),
    countLive: p('SELECT count(*) AS n FROM docs WHERE db = ? AND deleted = 0'),
    pageLive: p('SELECT id, body FROM docs WHERE db = ? AND id > ? AND deleted = 0 ORDER BY id LIMIT ? OFFSET ?'),
    pageAll: p('SELECT id, body FROM docs WHERE db = ? AND id > ? ORDER BY id LIMIT ? OFFSET ?'),
    scanLive: p('SELECT body FROM docs WHERE db = ? AND deleted = 0 ORDER BY id'),
    searchCount: p(`SELECT count(*) AS n FROM docs_fts JOIN docs d ON d.rowid = docs_fts.rowid
      WHERE docs_fts MATCH ? AND d.db = ? AND d.deleted = 0`),
    searchPage: p(`SELECT d.body FROM docs_fts JOIN docs d ON d.rowid = docs_fts.rowid
      WHERE docs_fts MATCH ? AND d.db = ? AND d.deleted = 0 ORDER BY docs_fts.rank, d.id LIMIT ? OFFSET ?`),
    changes: p('SELECT id, rev, deleted, seq FROM docs WHERE db = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?'),
    // Committed reads (shard/DESIGN.md "Committed reads"): the documents whose
    // head is above the read point, and what each held at the read point.
    pendingDocs: p('SELECT id, seq FROM docs WHERE db = ? AND seq > ?'),
    revisionAt: p('SELECT rev, deleted, body, seq FROM revisions WHERE db = ? AND id = ? AND seq <= ? ORDER BY seq DESC LIMIT 1'),
    revisionSeq: p('SELECT body, seq FROM revisions WHERE db = ? AND id = ? AND rev = ?'),
    dbOpsAfter: p(`SELECT seq, op, db FROM log WHERE seq > ? AND op IN ('db_create', 'db_delete') ORDER BY seq`),
    lastDbOp: p(`SELECT max(seq) AS seq FROM log WHERE op IN ('db_create', 'db_delete')`),
    countLiveAt: p('SELECT count(*) AS n FROM docs WHERE db = ? AND deleted = 0 AND seq <= ?'),
    dbCountsAt: p('SELECT sum(deleted = 0) AS live, sum(deleted = 1) AS dead, max(seq) AS seq FROM docs WHERE db = ? AND seq <= ?'),
    pageLiveAt: p('SELECT id, body FROM docs WHERE db = ? AND id > ? AND deleted = 0 AND seq <= ? ORDER BY id LIMIT ? OFFSET ?'),
    pageAllAt: p('SELECT id, body FROM docs WHERE db = ? AND id > ? AND seq <= ? ORDER BY id LIMIT ? OFFSET ?'),
    scanLiveAt: p('SELECT id, body FROM docs WHERE db = ? AND deleted = 0 AND seq <= ? ORDER BY id'),
    searchIdsAt: p(`SELECT d.id, d.body FROM docs_fts JOIN docs d ON d.rowid = docs_fts.rowid
      WHERE docs_fts MATCH ? AND d.db = ? AND d.deleted = 0 AND d.seq <= ? ORDER BY docs_fts.rank, d.id LIMIT ?`),
    searchCountAt: p(`SELECT count(*) AS n FROM docs_fts JOIN docs d ON d.rowid = docs_fts.rowid
      WHERE docs_fts MATCH ? AND d.db = ? AND d.deleted = 0 AND d.seq <= ?`),
  };
}
