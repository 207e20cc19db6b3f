import assert from 'node:assert/strict';
import { TesseraError } from '../../src/core/errors.ts';
import type { Doc, IdempotencyRecord, LogEntry, RepairImage } from '../../src/core/protocol.ts';
import type { DocRow, LogRow, StoreContext } from './context.ts';

// The log and what applying an entry does to the documents: the same code
// for a primary's own writes and for a replica applying a batch, so both
// sides hold identical documents for identical logs. Runs inside the
// caller's transaction.

/**
 * The one way an entry enters the log: the log row and its effect on the
 * documents, in the caller's transaction. `docJson` is the entry's document
 * serialised already (or null to serialise here); `head` the document's
 * current row when the caller has read it (undefined: read it here).
 */
export function appendEntry(ctx: StoreContext, entry: LogEntry, docJson?: string | null, head?: DocRow | null): void {
  const json = docJson !== undefined ? docJson : entry.doc === null ? null : JSON.stringify(entry.doc);
  ctx.q.insertLog.run(entry.seq, entry.term, entry.op, entry.db, entry.id, entry.rev, json, entry.ts, entry.idem ? JSON.stringify(entry.idem) : null);
  ctx.setLast({ seq: entry.seq, term: entry.term });
  applyEntry(ctx, entry, json, head);
  if (entry.idem) recordIdempotency(ctx, entry.seq, entry.idem, false);
}

/**
 * Keeps an Idempotency-Key record of the entry at `seq` (the last one its
 * write appended): in the log row too when the primary adds it after the
 * write (so the WAL and every copy carry it).
 */
export function recordIdempotency(ctx: StoreContext, seq: number, idem: IdempotencyRecord, onLogRow: boolean): void {
  if (onLogRow) ctx.q.setLogIdem.run(JSON.stringify(idem), seq);
  ctx.q.putIdempotency.run(idem.key, seq, idem.fingerprint, idem.status, idem.body, ctx.now());
}

function applyEntry(ctx: StoreContext, entry: LogEntry, docJson: string | null, head: DocRow | null | undefined): void {
  switch (entry.op) {
    case 'noop':
      return;
    case 'db_create':
      ctx.q.insertDb.run(entry.db, entry.seq);
      ctx.noteDb(entry.db, true);
      ctx.noteDbOp(entry.seq);
      return;
    case 'db_delete':
      dropDb(ctx, entry.db);
      ctx.noteDbOp(entry.seq);
      return;
    case 'put': {
      const doc = entry.doc;
      assert.ok(doc, `put entry ${entry.seq} without a doc`);
      const prev = head === undefined ? (ctx.q.getHead.get(entry.db, entry.id) as DocRow | undefined) : head ?? undefined;
      // A replica derives parent_rev/created from its own previous head, so a
      // promoted replica recognises retries as the old primary would.
      const created = !prev || prev.deleted === 1 ? 1 : 0;
      writeHead(ctx, entry.db, doc, docJson ?? JSON.stringify(doc), entry.seq, prev?.rev ?? null, created, prev !== undefined);
      return;
    }
    case 'repair':
      applyRepair(ctx, entry.db, entry.id, entry.doc as unknown as RepairImage, entry.seq);
      return;
  }
}

/**
 * A repair entry sets this copy's row of (db, id) to the primary's image.
 * The revision row keeps the image's own seq (not the repair's), so rolling
 * back an unacknowledged repair restores the same committed revision, never
 * an older one (router/VERIFY.md "Why repair is safe").
 */
function applyRepair(ctx: StoreContext, db: string, id: string, img: RepairImage, seq: number): void {
  if (!ctx.hasDb(db)) {
    ctx.q.insertDb.run(db, seq);
    ctx.noteDb(db, true);
  }
  const prev = ctx.q.getHead.get(db, id) as DocRow | undefined;
  if (img.doc === null || img.seq === null) {
    if (prev) {
      ctx.q.deleteFts.run(prev.rowid);
      ctx.q.deleteDoc.run(db, id);
    }
    ctx.q.deleteRevisionsOfDoc.run(db, id);
    return;
  }
  writeHead(ctx, db, img.doc, JSON.stringify(img.doc), img.seq, img.parentRev, img.created ? 1 : 0, prev !== undefined);
}

function writeHead(ctx: StoreContext, db: string, doc: Doc, json: string, seq: number, parentRev: string | null, created: number, existed = true): void {
  const deleted = doc.deleted ? 1 : 0;
  const { rowid } = ctx.q.upsertDoc.get(db, doc.id, doc.rev, deleted, json, seq, parentRev, created) as { rowid: number };
  ctx.q.upsertRevision.run(db, doc.id, doc.rev, seq, deleted, json, parentRev, created);
  if (existed) ctx.q.deleteFts.run(rowid);
  if (!deleted && typeof doc.content === 'string' && doc.content.length > 0) ctx.q.insertFts.run(rowid, doc.content);
}

function dropDb(ctx: StoreContext, db: string): void {
  ctx.q.deleteFtsOfDb.run(db);
  ctx.q.deleteDocsOfDb.run(db);
  ctx.q.deleteRevisionsOfDb.run(db);
  ctx.q.deleteDb.run(db);
  ctx.noteDb(db, false);
}

/**
 * Moves entries > `after` to the rollback table and restores every touched
 * document to its newest revision at or below `after`. Returns the count.
 * A rolled-back `db_delete` cannot be undone locally: the node then needs a
 * snapshot (shard/DESIGN.md "Rollback").
 */
export function rollbackAfter(ctx: StoreContext, after: number, byTerm: number): number {
  const meta = ctx.meta();
  assert.ok(after >= meta.baseSeq, `rollback to ${after} below the log base ${meta.baseSeq}`);
  const doomed = ctx.q.entriesAfter.all(after) as Array<Pick<LogRow, 'seq' | 'term' | 'op' | 'db' | 'id'>>;
  if (doomed.length === 0) return 0;
  ctx.q.copyToRollback.run(ctx.now(), byTerm, after);
  ctx.q.deleteLogAfter.run(after);
  ctx.setLast(null);
  ctx.noteDbOp(null);
  ctx.q.deleteRevisionsAfter.run(after);
  // A retry of a rolled-back keyed write must run again: it never happened.
  ctx.q.deleteIdempotencyAfter.run(after);
  const touched = new Map<string, { db: string; id: string }>();
  for (let i = doomed.length - 1; i >= 0; i--) {
    const e = doomed[i]!;
    if (e.op === 'put' || e.op === 'repair') touched.set(`${e.db}\u0000${e.id}`, { db: e.db, id: e.id });
    else if (e.op === 'db_create') dropDb(ctx, e.db);
    else if (e.op === 'db_delete') ctx.setMeta({ needsSnapshot: true });
  }
  for (const { db, id } of touched.values()) {
    const head = ctx.q.getHead.get(db, id) as DocRow | undefined;
    const rev = ctx.q.newestRevision.get(db, id) as (Omit<DocRow, 'rowid'>) | undefined;
    if (rev) {
      writeHead(ctx, db, JSON.parse(rev.body) as Doc, rev.body, rev.seq, rev.parent_rev, rev.created);
    } else if (head) {
      ctx.q.deleteFts.run(head.rowid);
      ctx.q.deleteDoc.run(db, id);
    }
  }
  return doomed.length;
}

/** Entries with seq > since, at most `limit`, as a ready-made JSON body (never re-parsed). */
export function walJson(ctx: StoreContext, since: number, limit: number, metaOnly: boolean): string {
  const meta = ctx.meta();
  const last = ctx.last(meta);
  if (since + 1 < meta.baseSeq + 1 && since < last.seq) {
    throw new TesseraError('gone', `seq ${since + 1} was trimmed; oldest is ${meta.baseSeq + 1}`, { oldestSeq: meta.baseSeq + 1, lastSeq: last.seq });
  }
  const rows = ctx.q.walPage.all(since, limit) as LogRow[];
  const parts = rows.map((r) => `{"seq":${r.seq},"term":${r.term},"op":"${r.op}","db":${JSON.stringify(r.db)},"id":${JSON.stringify(r.id)},"rev":${JSON.stringify(r.rev)},"doc":${metaOnly ? 'null' : (r.doc ?? 'null')},"ts":${r.ts}${!metaOnly && r.idem !== null ? `,"idem":${r.idem}` : ''}}`);
  return `{"entries":[${parts.join(',')}],"lastSeq":${last.seq},"oldestSeq":${meta.baseSeq + 1},"term":${meta.term},"role":"${meta.role}"}`;
}

export function toEntry(r: LogRow): LogEntry {
  const entry: LogEntry = { seq: r.seq, term: r.term, op: r.op, db: r.db, id: r.id, rev: r.rev, doc: r.doc === null ? null : (JSON.parse(r.doc) as Doc), ts: r.ts };
  if (r.idem !== null && r.idem !== undefined) entry.idem = JSON.parse(r.idem) as IdempotencyRecord;
  return entry;
}
