import assert from 'node:assert/strict';
import Database, { type Statement } from 'better-sqlite3';
import { TesseraError, errors } from '../../src/core/errors.ts';
import type { SnapshotLine } from '../../src/core/protocol.ts';
import type { Meta, StoreContext } from './context.ts';

// A streamed snapshot install (shard/DESIGN.md "Snapshot install"): lines are
// staged in TEMP tables chunk by chunk (no fsync, no lock on the main file,
// bounded memory), then `commit` swaps them in with one transaction — all or
// nothing. `abort` drops the staging; nothing else changed. One install at a
// time.

type EndLine = Extract<SnapshotLine, { type: 'end' }>;

/**
 * Where the router found the copy's log when it decided on a snapshot. An
 * install goes ahead only if the log is still there: two routers may both
 * decide to rebuild a copy, and the second, older snapshot must not roll back
 * entries the first install (and the relay after it) gave the copy since.
 */
export interface InstallPrecondition {
  lastSeq: number;
  lastTerm: number;
}

export class SnapshotInstall {
  readonly #ctx: StoreContext;
  #staging: { end: EndLine | null; insertDb: Statement; insertDoc: Statement; insertIdem: Statement } | null = null;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  begin(term: number, expect?: InstallPrecondition): void {
    if (this.#staging) throw new TesseraError('unavailable', 'a snapshot install is already running');
    checkSnapshotTerm(this.#ctx.meta(), term); // fail before the stream is read; checked again at commit
    this.#checkPrecondition(expect);
    const { db } = this.#ctx;
    db.exec(`
      DROP TABLE IF EXISTS temp.snap_dbs; DROP TABLE IF EXISTS temp.snap_docs; DROP TABLE IF EXISTS temp.snap_idem;
      CREATE TEMP TABLE snap_dbs (name TEXT PRIMARY KEY);
      CREATE TEMP TABLE snap_idem (key TEXT PRIMARY KEY, seq INTEGER NOT NULL, fingerprint TEXT NOT NULL, status INTEGER NOT NULL, body TEXT, ts INTEGER NOT NULL);
      CREATE TEMP TABLE snap_docs (db TEXT NOT NULL, id TEXT NOT NULL, rev TEXT NOT NULL, deleted INTEGER NOT NULL, body TEXT NOT NULL,
        seq INTEGER NOT NULL, parent_rev TEXT, created INTEGER NOT NULL, content TEXT, PRIMARY KEY (db, id));`);
    this.#staging = {
      end: null,
      insertDb: db.prepare('INSERT INTO temp.snap_dbs (name) VALUES (?)'),
      insertDoc: db.prepare('INSERT INTO temp.snap_docs (db, id, rev, deleted, body, seq, parent_rev, created, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      insertIdem: db.prepare('INSERT INTO temp.snap_idem (key, seq, fingerprint, status, body, ts) VALUES (?, ?, ?, ?, ?, ?)'),
    };
    this.#ctx.onEvent?.('installing snapshot', { term });
  }

  /** Stages a chunk of snapshot lines (one small transaction on TEMP tables). */
  stage(lines: ReadonlyArray<SnapshotLine>): void {
    const st = this.#staging;
    assert.ok(st, 'stageSnapshot without beginSnapshot');
    try {
      this.#ctx.db.transaction(() => {
        for (const line of lines) {
          if (st.end) throw errors.badRequest('snapshot has lines after its end line: refused');
          if (line.type === 'end') st.end = line;
          else if (line.type === 'db') st.insertDb.run(line.name);
          else if (line.type === 'idem') st.insertIdem.run(line.key, line.seq, line.fingerprint, line.status, line.body, line.ts);
          else {
            const d = line.doc;
            const created = line.created === undefined ? 1 : line.created ? 1 : 0;
            const content = typeof d.content === 'string' && d.content.length > 0 && !d.deleted ? d.content : null;
            st.insertDoc.run(line.db, d.id, d.rev, d.deleted ? 1 : 0, JSON.stringify(d), line.seq, line.parentRev ?? null, created, content);
          }
        }
      })();
    } catch (err) {
      if (err instanceof Database.SqliteError) throw errors.badRequest(`snapshot refused: ${err.message}`);
      throw err;
    }
  }

  /** Swaps the staged snapshot in; returns its end line. The staging is dropped either way. */
  /** Throws 409 conflict when the copy's log is no longer where the router found it. */
  #checkPrecondition(expect: InstallPrecondition | undefined): void {
    if (!expect) return;
    const last = this.#ctx.last();
    if (last.seq !== expect.lastSeq || last.term !== expect.lastTerm) {
      throw new TesseraError('conflict', `this copy's log ends at (${last.seq}, ${last.term}), not (${expect.lastSeq}, ${expect.lastTerm}) as probed: probe again`, {
        lastSeq: last.seq, lastTerm: last.term,
      });
    }
  }

  /**
   * Swaps the staged snapshot in; returns its end line. A copy whose log
   * already holds the snapshot's end entry has it already (another router
   * installed it, or relayed that far): the install is then a no-op. The
   * staging is dropped either way.
   */
  commit(term: number, primaryId: string, expect?: InstallPrecondition): EndLine {
    const st = this.#staging;
    assert.ok(st, 'commitSnapshot without beginSnapshot');
    const end = st.end;
    const ctx = this.#ctx;
    try {
      if (!end) throw errors.badRequest('snapshot stream has no end line: refused');
      const installed = ctx.tx(() => {
        const meta = ctx.meta();
        checkSnapshotTerm(meta, term);
        this.#checkPrecondition(expect);
        const at = end.seq === meta.baseSeq ? meta.baseTerm : (ctx.q.termAt.get(end.seq) as { term: number } | undefined)?.term;
        if (at === end.term) return false;
        ctx.db.exec(`
          DELETE FROM docs_fts; DELETE FROM docs; DELETE FROM revisions; DELETE FROM dbs; DELETE FROM log; DELETE FROM idempotency;
          INSERT INTO dbs (name, seq) SELECT name, 0 FROM temp.snap_dbs;
          INSERT INTO idempotency (key, seq, fingerprint, status, body, ts) SELECT key, seq, fingerprint, status, body, ts FROM temp.snap_idem;
          INSERT INTO docs (db, id, rev, deleted, body, seq, parent_rev, created)
            SELECT db, id, rev, deleted, body, seq, parent_rev, created FROM temp.snap_docs ORDER BY db, id;
          INSERT INTO revisions (db, id, rev, seq, deleted, body, parent_rev, created)
            SELECT db, id, rev, seq, deleted, body, parent_rev, created FROM temp.snap_docs;
          INSERT INTO docs_fts (rowid, content)
            SELECT d.rowid, s.content FROM temp.snap_docs s JOIN docs d ON d.db = s.db AND d.id = s.id WHERE s.content IS NOT NULL;`);
        ctx.setLast(null);
        ctx.noteDb(null, false);
        ctx.noteDbOp(null);
        ctx.setMeta({
          term: Math.max(term, meta.term),
          votedFor: term > meta.term ? null : meta.votedFor,
          role: 'replica',
          primaryId,
          baseSeq: end.seq,
          baseTerm: end.term,
          commitSeq: Math.min(meta.commitSeq, end.seq),
          needsSnapshot: false,
        });
        return true;
      });
      if (!installed) {
        ctx.onEvent?.('snapshot already held', { seq: end.seq, term: end.term });
        return end;
      }
    } finally {
      this.abort();
    }
    ctx.primaryLastSeq = end.seq;
    ctx.onEvent?.('snapshot installed', { seq: end.seq, term: end.term, docs: end.docs, dbs: end.dbs, primaryId });
    return end;
  }

  abort(): void {
    if (!this.#staging) return;
    this.#staging = null;
    this.#ctx.db.exec('DROP TABLE IF EXISTS temp.snap_dbs; DROP TABLE IF EXISTS temp.snap_docs; DROP TABLE IF EXISTS temp.snap_idem;');
  }
}

function checkSnapshotTerm(meta: Meta, term: number): void {
  if (term < meta.term || (term === meta.term && meta.role === 'primary')) {
    throw new TesseraError('stale_term', `snapshot from term ${term}, node at term ${meta.term}`, { term: meta.term, primaryId: meta.primaryId });
  }
}
