import { docBody } from '../../src/core/doc/body.ts';
import type { DocBody } from '../../src/core/doc/rev.ts';
import { TesseraError, errors } from '../../src/core/errors.ts';
import type { Doc, EntryOp, LogEntry, RepairImage } from '../../src/core/protocol.ts';
import { planRestore, planWrite, type Head, type WriteRequest } from '../../src/rules/index.ts';
import type { DocRow, Meta, StoreContext } from './context.ts';
import { appendEntry, recordIdempotency } from './log.ts';

// A primary's writes: the term guard, then the revision rules (planWrite)
// carried out as log entries. Each call runs in its own transaction, a
// savepoint inside group commit's.

/** A write's effect on the primary: status, answer body, entries appended. */
export interface WriteResult<B = Record<string, unknown>> {
  status: number;
  body: B & { seq: number };
  entries: LogEntry[];
}

/** The router's stamp: the term it believes the primary has (optional); the client's Idempotency-Key. */
export interface WriteGuard {
  term?: number;
  idempotency?: { key: string; fingerprint: string };
}

export interface BulkDoc {
  id?: string;
  rev?: string;
  deleted?: boolean;
  data?: Record<string, unknown>;
  tags?: string[];
  content?: string;
}

export type BulkItem = { ok: true; id: string; rev: string; seq: number } | { id: string; error: string; reason: string };

/**
 * Only a primary takes writes and stamped reads, and only at the term the
 * router stamped (a router with an older view learns the new term from the
 * 409 and looks for the primary again).
 */
export function assertPrimaryAt(meta: Meta, term: number | undefined): void {
  // A fresh data dir not joined yet is not a primary, whatever role the config gave it.
  if (meta.role !== 'primary' || !meta.joined) {
    throw new TesseraError('not_primary', undefined, { primaryId: meta.primaryId, term: meta.term });
  }
  if (term !== undefined && term !== meta.term) {
    throw new TesseraError('stale_term', `stamped with term ${term}, node is at term ${meta.term}`, { term: meta.term, primaryId: meta.primaryId });
  }
}

export class PrimaryWrites {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  #guard(guard: WriteGuard): Meta {
    const ctx = this.#ctx;
    const meta = ctx.meta();
    assertPrimaryAt(meta, guard.term);
    if (this.#ctx.reportedCommit > meta.commitSeq) {
      const commitSeq = ctx.commitSeq(meta);
      if (commitSeq > meta.commitSeq) {
        ctx.setMeta({ commitSeq });
        meta.commitSeq = commitSeq;
      }
    }
    return meta;
  }

  /**
   * Idempotency-Key: a key seen before answers as it did then (same status,
   * same body, the original seq) and writes nothing; a new key runs the write
   * and, if it appended entries, keeps the answer on the last of them, so
   * every copy can answer a retry after a failover. A write that appended
   * nothing (a 409, an idempotent retry) keeps no record: it had no effect,
   * running it again is as good. One key names one request: the same key
   * with another request is 422.
   */
  #keyed<B>(guard: WriteGuard, run: () => WriteResult<B>): WriteResult<B> {
    const idem = guard.idempotency;
    if (!idem) return run();
    const ctx = this.#ctx;
    const seen = ctx.q.getIdempotency.get(idem.key) as { seq: number; fingerprint: string; status: number; body: string } | undefined;
    if (seen) {
      if (seen.fingerprint !== idem.fingerprint) {
        throw new TesseraError('idempotency_key_reused', `Idempotency-Key ${idem.key} was used for another request (seq ${seen.seq})`);
      }
      return { status: seen.status, body: JSON.parse(seen.body) as B & { seq: number }, entries: [] };
    }
    const r = run();
    const last = r.entries.at(-1);
    if (last) {
      last.idem = { key: idem.key, fingerprint: idem.fingerprint, status: r.status, body: JSON.stringify(r.body) };
      recordIdempotency(ctx, last.seq, last.idem, true);
    }
    return r;
  }

  /** A new entry of the primary's own term at the end of its log (also promote's noop). */
  append(meta: Meta, op: EntryOp, db: string, id: string, rev: string, doc: Doc | null, head?: DocRow | null): LogEntry {
    const entry: LogEntry = { seq: this.#ctx.last(meta).seq + 1, term: meta.term, op, db, id, rev, doc, ts: this.#ctx.now() };
    appendEntry(this.#ctx, entry, undefined, head);
    return entry;
  }

  createDb(name: string, guard: WriteGuard = {}): WriteResult<{ ok: true; db: string }> {
    return this.#ctx.tx(() => {
      const meta = this.#guard(guard);
      return this.#keyed(guard, () => {
        if (this.#ctx.hasDb(name)) return { status: 200, body: { ok: true as const, db: name, seq: this.#ctx.last(meta).seq }, entries: [] };
        const entry = this.append(meta, 'db_create', name, '', '', null);
        return { status: 201, body: { ok: true as const, db: name, seq: entry.seq }, entries: [entry] };
      });
    });
  }

  deleteDb(name: string, guard: WriteGuard = {}): WriteResult<{ ok: true; db: string }> {
    return this.#ctx.tx(() => {
      const meta = this.#guard(guard);
      return this.#keyed(guard, () => {
        if (!this.#ctx.hasDb(name)) throw errors.notFound(`database ${name} not found`);
        const entry = this.append(meta, 'db_delete', name, '', '', null);
        return { status: 200, body: { ok: true as const, db: name, seq: entry.seq }, entries: [entry] };
      });
    });
  }

  putDoc(db: string, id: string, rev: string | undefined, body: DocBody, guard: WriteGuard = {}): WriteResult<Doc> {
    return this.#ctx.tx(() => {
      const meta = this.#guard(guard);
      return this.#keyed(guard, () => {
        this.#ctx.requireDb(db);
        return this.#writeDoc(meta, db, { kind: 'put', id, ...(rev !== undefined ? { rev } : {}), body });
      });
    });
  }

  deleteDoc(db: string, id: string, rev: string, guard: WriteGuard = {}): WriteResult<{ ok: true; id: string; rev: string }> {
    return this.#ctx.tx(() => {
      const meta = this.#guard(guard);
      return this.#keyed(guard, () => {
        this.#ctx.requireDb(db);
        const r = this.#writeDoc(meta, db, { kind: 'delete', id, rev });
        return { status: r.status, body: { ok: true as const, id, rev: r.body.rev, seq: r.body.seq }, entries: r.entries };
      });
    });
  }

  /**
   * A `repair` entry carrying this primary's head of (db, id) (protocol.ts
   * RepairImage): replicated like any write, it makes every copy's row equal
   * to the primary's at this point of the log (router/VERIFY.md).
   */
  repair(db: string, id: string, guard: WriteGuard = {}): WriteResult<{ ok: true; db: string; id: string; rev: string | null }> {
    return this.#ctx.tx(() => {
      const meta = this.#guard(guard);
      this.#ctx.requireDb(db);
      const row = this.#ctx.q.getHead.get(db, id) as DocRow | undefined;
      const img: RepairImage = row
        ? { doc: JSON.parse(row.body) as Doc, seq: row.seq, parentRev: row.parent_rev, created: row.created === 1 }
        : { doc: null, seq: null, parentRev: null, created: false };
      const entry = this.append(meta, 'repair', db, id, row?.rev ?? '', img as unknown as Doc, row ?? null);
      return { status: 200, body: { ok: true, db, id, rev: row?.rev ?? null, seq: entry.seq }, entries: [entry] };
    });
  }

  /** Each doc in its own savepoint: one conflict does not undo the others. */
  bulk(db: string, docs: BulkDoc[], newId: () => string, guard: WriteGuard = {}): WriteResult<{ results: BulkItem[] }> {
    return this.#ctx.tx(() => {
      const meta = this.#guard(guard);
      return this.#keyed(guard, () => this.#bulk(meta, db, docs, newId));
    });
  }

  #bulk(meta: Meta, db: string, docs: BulkDoc[], newId: () => string): WriteResult<{ results: BulkItem[] }> {
    this.#ctx.requireDb(db);
    const results: BulkItem[] = [];
    const entries: LogEntry[] = [];
    let seq = 0;
    for (const d of docs) {
      const id = d.id ?? newId();
      try {
        const req: WriteRequest = d.deleted === true
          ? { kind: 'delete', id, rev: d.rev ?? '' }
          : { kind: 'put', id, ...(d.rev !== undefined ? { rev: d.rev } : {}), body: docBody(d) };
        if (req.kind === 'delete' && !d.rev) throw errors.badRequest('a delete needs rev');
        const r = this.#ctx.tx(() => this.#writeDoc(meta, db, req));
        results.push({ ok: true, id, rev: r.body.rev, seq: r.body.seq });
        entries.push(...r.entries);
        seq = Math.max(seq, r.body.seq);
      } catch (err) {
        if (!(err instanceof TesseraError)) throw err;
        results.push({ id, error: err.code, reason: err.message });
      }
    }
    return { status: 200, body: { results, seq: seq || this.#ctx.last(meta).seq }, entries };
  }

  /**
   * Documents from a backup, written as they were (rev kept), each as a put
   * entry so every replica gets them through the log. A document already
   * here at the same rev is a no-op (a repeated batch); another rev is 409.
   */
  restore(db: string, docs: Doc[], guard: WriteGuard = {}): WriteResult<{ results: BulkItem[] }> {
    return this.#ctx.tx(() => {
      const meta = this.#guard(guard);
      this.#ctx.requireDb(db);
      const results: BulkItem[] = [];
      const entries: LogEntry[] = [];
      for (const d of docs) {
        const row = this.#ctx.q.getHead.get(db, d.id) as DocRow | undefined;
        const plan = planRestore(row ? { rev: row.rev, deleted: row.deleted === 1, parentRev: row.parent_rev, created: row.created === 1, seq: row.seq } : null, d);
        if (plan.kind === 'conflict' || plan.kind === 'bad') {
          results.push({ id: d.id, error: plan.kind === 'bad' ? 'bad_request' : 'conflict', reason: plan.reason });
          continue;
        }
        if (plan.kind === 'same') {
          results.push({ ok: true, id: d.id, rev: d.rev, seq: row!.seq });
          continue;
        }
        const doc: Doc = { id: d.id, rev: d.rev, data: d.data, ...(d.deleted ? { deleted: true as const } : {}), ...(d.tags !== undefined ? { tags: d.tags } : {}), ...(d.content !== undefined ? { content: d.content } : {}) };
        const entry = this.append(meta, 'put', db, d.id, d.rev, doc, row ?? null);
        entries.push(entry);
        results.push({ ok: true, id: d.id, rev: d.rev, seq: entry.seq });
      }
      return { status: 200, body: { results, seq: entries.at(-1)?.seq ?? this.#ctx.last(meta).seq }, entries };
    });
  }

  #writeDoc(meta: Meta, db: string, req: WriteRequest): WriteResult<Doc> {
    const row = this.#ctx.q.getHead.get(db, req.id) as DocRow | undefined;
    const head: Head | null = row
      ? { rev: row.rev, deleted: row.deleted === 1, parentRev: row.parent_rev, created: row.created === 1, seq: row.seq }
      : null;
    const plan = planWrite(head, req);
    switch (plan.kind) {
      case 'conflict':
        throw new TesseraError('conflict', plan.reason);
      case 'not_found':
        throw errors.notFound(plan.reason);
      case 'retry':
        return { status: plan.status, body: { ...(JSON.parse(row!.body) as Doc), seq: plan.seq }, entries: [] };
      case 'write': {
        const entry = this.append(meta, 'put', db, req.id, plan.doc.rev, plan.doc, row ?? null);
        return { status: plan.status, body: { ...plan.doc, seq: entry.seq }, entries: [entry] };
      }
    }
  }
}
