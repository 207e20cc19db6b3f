import assert from 'node:assert/strict';
import Database, { type Database as Db, type Statement } from 'better-sqlite3';
import { TesseraError, errors } from '../../src/core/errors.ts';
import { docBody } from '../../src/core/doc/body.ts';
import type { DocBody } from '../../src/core/doc/rev.ts';
import { decidePromote, decideReplicate, decideVote, planTrim, planWrite, type Head, type WriteRequest } from '../../src/rules/index.ts';
import type {
  Doc, EntryOp, LogEntry, NodeState, SeqTerm, PromoteRequest, PromoteResponse, ReplicateRequest, ReplicateResponse, Role, SnapshotLine,
  VoteRequest, VoteResponse,
} from '../../src/core/protocol.ts';
import { migrate } from './schema.ts';
import { prepare, type Statements } from './statements.ts';
import { snapshotLines } from './snapshot-reader.ts';
import { matchesFields, matchesTags, type FieldsQuery, type TagsQuery } from './query-match.ts';

// The node's durable state behind one better-sqlite3 connection. Every public
// method is synchronous and runs in its own transaction, which becomes a
// savepoint when the caller (group commit) already holds one — so a batch of
// writes shares one commit and one fsync while each write can fail alone.

export interface StoreOptions {
  path: string;
  nodeId: string;
  shardId: number;
  /** Role and primary a brand-new file starts with (config order, term 1). */
  initial: { role: Role; primaryId: string };
  walRetention: number;
  synchronous?: 'FULL' | 'NORMAL' | 'OFF';
  now?: () => number;
  /** Lifecycle events (role or term changes, rollbacks, snapshot installs) for the log. */
  onEvent?: (event: string, details: Record<string, unknown>) => void;
}

export interface Meta {
  term: number;
  votedFor: string | null;
  role: Role;
  primaryId: string | null;
  commitSeq: number;
  baseSeq: number;
  baseTerm: number;
  needsSnapshot: boolean;
}

/** A write's effect on the primary: status, answer body, entries appended. */
export interface WriteResult<B = Record<string, unknown>> {
  status: number;
  body: B & { seq: number };
  entries: LogEntry[];
}

/** The router's stamp: the term it believes the primary has (optional). */
export interface WriteGuard {
  term?: number;
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

export interface ListQuery {
  skip: number;
  limit: number;
}

interface DocRow {
  rowid: number;
  rev: string;
  deleted: number;
  body: string;
  seq: number;
  parent_rev: string | null;
  created: number;
}

/** A log entry as SQLite holds it: the document still as JSON text. */
type LogRow = Omit<LogEntry, 'doc'> & { doc: string | null };

/** Replicas within this many entries of the primary count as caught up. */
export const READY_LAG_ENTRIES = 1000;

export class Store {
  readonly nodeId: string;
  readonly shardId: number;
  readonly path: string;
  readonly #db: Db;
  readonly #now: () => number;
  readonly #retention: number;
  readonly #q: Statements;
  /** The primary's lastSeq as last heard (memory only: unknown after a restart). */
  #primaryLastSeq: number | null = null;
  /** Lowest seq an in-sync replica still needs (x-tessera-keep); null = commitSeq. */
  #keep: number | null = null;
  #reportedCommit = 0;
  // Hot-path caches of rows every write reads. Written through on change and
  // dropped whenever a transaction or savepoint fails (its writes are undone).
  #metaCache: Meta | null = null;
  #lastCache: SeqTerm | null = null;
  #dbsCache: Set<string> | null = null;
  /** A streamed snapshot install in progress (staged in TEMP tables). */
  #staging: { end: Extract<SnapshotLine, { type: 'end' }> | null; insertDb: Statement; insertDoc: Statement } | null = null;
  #closed = false;
  readonly #onEvent: StoreOptions['onEvent'];

  constructor(opts: StoreOptions) {
    this.nodeId = opts.nodeId;
    this.shardId = opts.shardId;
    this.path = opts.path;
    this.#now = opts.now ?? Date.now;
    this.#retention = opts.walRetention;
    this.#onEvent = opts.onEvent;
    this.#db = new Database(opts.path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
    this.#db.pragma('busy_timeout = 5000');
    const created = migrate(this.#db);
    this.#q = prepare(this.#db);
    if (created) {
      this.#tx(() => {
        this.#setMeta({
          term: 1, votedFor: null, role: opts.initial.role, primaryId: opts.initial.primaryId,
          commitSeq: 0, baseSeq: 0, baseTerm: 0, needsSnapshot: false,
        });
        this.#q.setMeta.run('nodeId', opts.nodeId);
        this.#q.setMeta.run('shardId', String(opts.shardId));
      });
    } else {
      const owner = this.#q.getMeta.get('nodeId') as { value: string } | undefined;
      if (owner && owner.value !== opts.nodeId) {
        this.#db.close();
        throw new Error(`${opts.path} belongs to node ${owner.value}, not ${opts.nodeId}`);
      }
    }
  }

  /** Runs `fn` in one transaction (a savepoint when one is already open). */
  transaction<T>(fn: () => T): T {
    return this.#tx(fn);
  }

  #tx<T>(fn: () => T): T {
    try {
      return this.#db.transaction(fn).immediate();
    } catch (err) {
      this.#metaCache = null;
      this.#lastCache = null;
      this.#dbsCache = null;
      throw err;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  // ---- state -------------------------------------------------------------

  meta(): Meta {
    this.#metaCache ??= this.#readMeta();
    return { ...this.#metaCache };
  }

  #readMeta(): Meta {
    const m = new Map((this.#q.allMeta.all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    return {
      term: Number(m.get('term')),
      votedFor: m.get('votedFor') || null,
      role: m.get('role') as Role,
      primaryId: m.get('primaryId') || null,
      commitSeq: Number(m.get('commitSeq')),
      baseSeq: Number(m.get('baseSeq')),
      baseTerm: Number(m.get('baseTerm')),
      needsSnapshot: m.get('needsSnapshot') === '1',
    };
  }

  #setMeta(patch: Partial<Meta>): void {
    // A new term means a new primary: what we heard of the old one's position
    // says nothing about how far behind the new one we are.
    if (patch.term !== undefined && patch.term !== this.#metaCache?.term) this.#primaryLastSeq = null;
    for (const [k, v] of Object.entries(patch)) {
      const value = v === null ? '' : typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
      this.#q.setMeta.run(k, value);
    }
    if (this.#metaCache) Object.assign(this.#metaCache, patch);
    // An empty log's last entry is the base: keep them in step.
    if (patch.baseSeq !== undefined || patch.baseTerm !== undefined) this.#lastCache = null;
  }

  last(meta: Meta = this.meta()): SeqTerm {
    if (!this.#lastCache) {
      const row = this.#q.lastEntry.get() as SeqTerm | undefined;
      this.#lastCache = row ?? { seq: meta.baseSeq, term: meta.baseTerm };
    }
    return { ...this.#lastCache };
  }

  state(): NodeState {
    const meta = this.meta();
    const last = this.last(meta);
    return {
      nodeId: this.nodeId,
      shardId: this.shardId,
      role: meta.role,
      term: meta.term,
      votedFor: meta.votedFor,
      primaryId: meta.primaryId,
      lastSeq: last.seq,
      lastTerm: last.term,
      commitSeq: this.#commitSeq(meta, last.seq),
      oldestSeq: meta.baseSeq + 1,
      ready: this.#ready(meta, last.seq),
      rollbackCount: (this.#q.rollbackCount.get() as { n: number }).n,
    };
  }

  #ready(meta: Meta, lastSeq: number): boolean {
    if (meta.needsSnapshot) return false;
    if (meta.role === 'primary') return true;
    return this.#primaryLastSeq !== null && lastSeq >= this.#primaryLastSeq - READY_LAG_ENTRIES;
  }

  /** Why the node is not ready, or null when it is. */
  notReadyReason(): string | null {
    const meta = this.meta();
    if (meta.needsSnapshot) return 'needs a snapshot';
    if (this.#ready(meta, this.last(meta).seq)) return null;
    return this.#primaryLastSeq === null ? 'has not heard from the primary yet' : 'catching up';
  }

  /**
   * The router's commitSeq (x-tessera-commit). Kept in memory and persisted
   * with the next write, so noting it never costs an fsync of its own; losing
   * it in a crash only makes the node more conservative.
   */
  noteCommitSeq(seq: number): void {
    if (seq > this.#reportedCommit) this.#reportedCommit = seq;
  }

  /**
   * The router knows everything up to `commitSeq` is quorum-durable, and a
   * primary holds every committed entry. A primary whose log ends below it has
   * lost entries (a deleted data dir brings the shard's first node back as
   * primary at term 1 with an empty log; a lost fsync): it must not take
   * writes, whose seqs would reuse committed (seq, term) pairs, nor serve
   * reads. It steps down, so the router elects a node that holds the log.
   */
  checkCommitFloor(commitSeq: number): void {
    const meta = this.meta();
    if (meta.role !== 'primary') return;
    const lastSeq = this.last(meta).seq;
    if (commitSeq <= lastSeq) return;
    this.#onEvent?.('log behind the commit point', { lastSeq, commitSeq, term: meta.term });
    this.#observe(() => this.#tx(() => this.#setMeta({ role: 'replica', primaryId: null })));
  }

  #commitSeq(meta: Meta, lastSeq: number): number {
    return Math.max(meta.commitSeq, Math.min(this.#reportedCommit, lastSeq));
  }

  noteKeep(seq: number): void {
    this.#keep = seq;
  }

  // ---- primary writes ----------------------------------------------------

  #guard(guard: WriteGuard): Meta {
    const meta = this.meta();
    if (meta.role !== 'primary') {
      throw new TesseraError('not_primary', undefined, { primaryId: meta.primaryId, term: meta.term });
    }
    if (guard.term !== undefined && guard.term !== meta.term) {
      throw new TesseraError('stale_term', `write stamped with term ${guard.term}, node is at term ${meta.term}`, { term: meta.term, primaryId: meta.primaryId });
    }
    if (this.#reportedCommit > meta.commitSeq) {
      const commitSeq = this.#commitSeq(meta, this.last(meta).seq);
      if (commitSeq > meta.commitSeq) {
        this.#setMeta({ commitSeq });
        meta.commitSeq = commitSeq;
      }
    }
    return meta;
  }

  #append(meta: Meta, op: EntryOp, db: string, id: string, rev: string, doc: Doc | null, head?: DocRow | null): LogEntry {
    const seq = this.last(meta).seq + 1;
    const entry: LogEntry = { seq, term: meta.term, op, db, id, rev, doc, ts: this.#now() };
    const docJson = doc === null ? null : JSON.stringify(doc);
    this.#q.insertLog.run(seq, entry.term, op, db, id, rev, docJson, entry.ts);
    this.#lastCache = { seq, term: entry.term };
    this.#apply(entry, docJson, head);
    return entry;
  }

  createDb(name: string, guard: WriteGuard = {}): WriteResult<{ ok: true; db: string }> {
    return this.#tx(() => {
      const meta = this.#guard(guard);
      if (this.#hasDb(name)) return { status: 200, body: { ok: true, db: name, seq: this.last(meta).seq }, entries: [] };
      const entry = this.#append(meta, 'db_create', name, '', '', null);
      return { status: 201, body: { ok: true, db: name, seq: entry.seq }, entries: [entry] };
    });
  }

  deleteDb(name: string, guard: WriteGuard = {}): WriteResult<{ ok: true; db: string }> {
    return this.#tx(() => {
      const meta = this.#guard(guard);
      if (!this.#hasDb(name)) throw errors.notFound(`database ${name} not found`);
      const entry = this.#append(meta, 'db_delete', name, '', '', null);
      return { status: 200, body: { ok: true, db: name, seq: entry.seq }, entries: [entry] };
    });
  }

  putDoc(db: string, id: string, rev: string | undefined, body: DocBody, guard: WriteGuard = {}): WriteResult<Doc> {
    return this.#tx(() => {
      const meta = this.#guard(guard);
      this.#requireDb(db);
      return this.#writeDoc(meta, db, { kind: 'put', id, ...(rev !== undefined ? { rev } : {}), body });
    });
  }

  deleteDoc(db: string, id: string, rev: string, guard: WriteGuard = {}): WriteResult<{ ok: true; id: string; rev: string }> {
    return this.#tx(() => {
      const meta = this.#guard(guard);
      this.#requireDb(db);
      const r = this.#writeDoc(meta, db, { kind: 'delete', id, rev });
      return { status: r.status, body: { ok: true, id, rev: r.body.rev, seq: r.body.seq }, entries: r.entries };
    });
  }

  /** Each doc in its own savepoint: one conflict does not undo the others. */
  bulk(db: string, docs: BulkDoc[], newId: () => string, guard: WriteGuard = {}): WriteResult<{ results: BulkItem[] }> {
    return this.#tx(() => {
      const meta = this.#guard(guard);
      this.#requireDb(db);
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
          const r = this.#tx(() => this.#writeDoc(meta, db, req));
          results.push({ ok: true, id, rev: r.body.rev, seq: r.body.seq });
          entries.push(...r.entries);
          seq = Math.max(seq, r.body.seq);
        } catch (err) {
          if (!(err instanceof TesseraError)) throw err;
          results.push({ id, error: err.code, reason: err.message });
        }
      }
      return { status: 200, body: { results, seq: seq || this.last(meta).seq }, entries };
    });
  }

  #writeDoc(meta: Meta, db: string, req: WriteRequest): WriteResult<Doc> {
    const row = this.#q.getHead.get(db, req.id) as DocRow | undefined;
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
        const entry = this.#append(meta, 'put', db, req.id, plan.doc.rev, plan.doc, row ?? null);
        return { status: plan.status, body: { ...plan.doc, seq: entry.seq }, entries: [entry] };
      }
    }
  }

  #requireDb(db: string): void {
    if (!this.#hasDb(db)) throw errors.notFound(`database ${db} not found`);
  }

  #hasDb(name: string): boolean {
    this.#dbsCache ??= new Set(this.listDbs());
    return this.#dbsCache.has(name);
  }

  // ---- applying entries (primary and replica alike) ----------------------

  /** `head`: the doc's current row when the caller already read it. */
  #apply(entry: LogEntry, docJson: string | null, head?: DocRow | null): void {
    switch (entry.op) {
      case 'noop':
        return;
      case 'db_create':
        this.#q.insertDb.run(entry.db, entry.seq);
        this.#dbsCache?.add(entry.db);
        return;
      case 'db_delete':
        this.#dropDb(entry.db);
        return;
      case 'put': {
        const doc = entry.doc;
        assert.ok(doc, `put entry ${entry.seq} without a doc`);
        const prev = head === undefined ? (this.#q.getHead.get(entry.db, entry.id) as DocRow | undefined) : head ?? undefined;
        const created = !prev || prev.deleted === 1 ? 1 : 0;
        this.#writeHead(entry.db, doc, docJson ?? JSON.stringify(doc), entry.seq, prev?.rev ?? null, created, prev !== undefined);
        return;
      }
    }
  }

  #writeHead(db: string, doc: Doc, json: string, seq: number, parentRev: string | null, created: number, existed = true): void {
    const deleted = doc.deleted ? 1 : 0;
    const { rowid } = this.#q.upsertDoc.get(db, doc.id, doc.rev, deleted, json, seq, parentRev, created) as { rowid: number };
    this.#q.upsertRevision.run(db, doc.id, doc.rev, seq, deleted, json, parentRev, created);
    if (existed) this.#q.deleteFts.run(rowid);
    if (!deleted && typeof doc.content === 'string' && doc.content.length > 0) this.#q.insertFts.run(rowid, doc.content);
  }

  #dropDb(db: string): void {
    this.#q.deleteFtsOfDb.run(db);
    this.#q.deleteDocsOfDb.run(db);
    this.#q.deleteRevisionsOfDb.run(db);
    this.#q.deleteDb.run(db);
    this.#dbsCache?.delete(db);
  }

  // ---- replication -------------------------------------------------------

  /** Runs a replication call and reports what it changed in role, term or health. */
  #observe<T>(fn: () => T): T {
    if (!this.#onEvent) return fn();
    const before = this.meta();
    try {
      return fn();
    } finally {
      const after = this.meta();
      if (after.term !== before.term || after.role !== before.role) {
        this.#onEvent(after.role === 'primary' && before.role !== 'primary' ? 'promoted' : before.role === 'primary' && after.role !== 'primary' ? 'stepped down' : 'new term', {
          term: after.term, role: after.role, primaryId: after.primaryId, previousTerm: before.term, previousRole: before.role,
        });
      }
      if (after.needsSnapshot && !before.needsSnapshot) this.#onEvent('needs a snapshot', { term: after.term });
    }
  }

  vote(req: VoteRequest): VoteResponse {
    return this.#observe(() => this.#vote(req));
  }

  #vote(req: VoteRequest): VoteResponse {
    return this.#tx(() => {
      const meta = this.meta();
      const last = this.last(meta);
      const d = decideVote({ term: meta.term, votedFor: meta.votedFor, lastSeq: last.seq, lastTerm: last.term }, req);
      if (d.stepDown) this.#setMeta({ term: d.term, votedFor: d.votedFor, role: 'replica', primaryId: null });
      else if (d.votedFor !== meta.votedFor) this.#setMeta({ votedFor: d.votedFor });
      return { granted: d.granted, term: d.term, ...(d.reason ? { reason: d.reason } : {}) };
    });
  }

  promote(req: PromoteRequest): PromoteResponse {
    return this.#observe(() => this.#promote(req));
  }

  #promote(req: PromoteRequest): PromoteResponse {
    return this.#tx(() => {
      const meta = this.meta();
      const d = decidePromote({ self: this.nodeId, term: meta.term, votedFor: meta.votedFor, role: meta.role }, req.term);
      if (d.kind === 'already') return { ok: true, role: 'primary', term: meta.term, lastSeq: this.last(meta).seq };
      if (d.kind === 'refuse') throw new TesseraError('stale_term', d.reason, { term: meta.term, primaryId: meta.primaryId });
      this.#setMeta({ role: 'primary', primaryId: this.nodeId });
      // Entries of earlier terms commit only together with one of this term.
      const entry = this.#append({ ...meta, role: 'primary' }, 'noop', '', '', '', null);
      return { ok: true, role: 'primary', term: meta.term, lastSeq: entry.seq };
    });
  }

  replicate(req: ReplicateRequest): ReplicateResponse {
    const res = this.#observe(() => this.#replicate(req));
    if (res.rolledBack > 0) this.#onEvent?.('rolled back', { entries: res.rolledBack, term: res.term, lastSeq: res.lastSeq });
    // Replicas keep walRetention entries too (DESIGN §5.5): a replica may be the next primary.
    this.trim();
    return res;
  }

  #replicate(req: ReplicateRequest): ReplicateResponse {
    const outcome = this.#tx(() => {
      const meta = this.meta();
      const last = this.last(meta);
      const from = Math.max(req.prevSeq, meta.baseSeq + 1);
      const tail = this.#q.tailFrom.all(from) as SeqTerm[];
      const plan = decideReplicate({
        self: this.nodeId, term: meta.term, votedFor: meta.votedFor, role: meta.role, primaryId: meta.primaryId,
        lastSeq: last.seq, lastTerm: last.term, baseSeq: meta.baseSeq, baseTerm: meta.baseTerm,
        commitSeq: meta.commitSeq, needsSnapshot: meta.needsSnapshot,
      }, tail, req);
      if (plan.kind === 'invalid') return { error: errors.badRequest(`body.entries: ${plan.reason}`) };
      if (plan.kind === 'stale_term') {
        return { error: new TesseraError('stale_term', `sender term ${req.term}, node term ${meta.term}`, { term: plan.term, primaryId: plan.primaryId }) };
      }
      this.#adopt(meta, plan.adopt);
      if (plan.kind === 'gap') return { error: new TesseraError('gap', undefined, { ...plan.details }) };
      let rolledBack = 0;
      if (plan.rollbackAfter !== null) {
        rolledBack = this.#rollbackAfter(plan.rollbackAfter, req.term);
        if (this.meta().needsSnapshot) {
          const now = this.last();
          return { error: new TesseraError('gap', 'a rolled-back db_delete cannot be undone locally', { lastSeq: now.seq, lastTerm: now.term, mismatch: true, needsSnapshot: true }) };
        }
      }
      for (let i = plan.appendFrom; i < req.entries.length; i++) {
        const e = req.entries[i]!;
        const json = e.doc === null ? null : JSON.stringify(e.doc);
        this.#q.insertLog.run(e.seq, e.term, e.op, e.db, e.id, e.rev, json, e.ts);
        this.#lastCache = { seq: e.seq, term: e.term };
        this.#apply(e, json);
      }
      if (plan.commitSeq > meta.commitSeq) this.#setMeta({ commitSeq: plan.commitSeq });
      const end = this.last();
      const heard = req.primaryLastSeq ?? (req.truncate ? plan.batchEnd : null);
      if (heard !== null) this.#primaryLastSeq = heard;
      const res: ReplicateResponse = { ok: true, term: req.term, lastSeq: end.seq, lastTerm: end.term, rolledBack };
      return { res };
    });
    if ('error' in outcome) throw outcome.error;
    return outcome.res;
  }

  #adopt(meta: Meta, a: { term: number; votedFor: string | null; role: Role; primaryId: string }): void {
    const patch: Partial<Meta> = {};
    if (a.term !== meta.term) patch.term = a.term;
    if (a.votedFor !== meta.votedFor) patch.votedFor = a.votedFor;
    if (a.role !== meta.role) patch.role = a.role;
    if (a.primaryId !== meta.primaryId) patch.primaryId = a.primaryId;
    if (Object.keys(patch).length > 0) this.#setMeta(patch);
  }

  /**
   * Moves entries > `after` to the rollback table and restores every touched
   * document to its newest revision at or below `after`. Returns the count.
   */
  #rollbackAfter(after: number, byTerm: number): number {
    const meta = this.meta();
    assert.ok(after >= meta.baseSeq, `rollback to ${after} below the log base ${meta.baseSeq}`);
    const doomed = this.#q.entriesAfter.all(after) as Array<Pick<LogRow, 'seq' | 'term' | 'op' | 'db' | 'id'>>;
    if (doomed.length === 0) return 0;
    this.#q.copyToRollback.run(this.#now(), byTerm, after);
    this.#q.deleteLogAfter.run(after);
    this.#lastCache = null;
    this.#q.deleteRevisionsAfter.run(after);
    const touched = new Map<string, { db: string; id: string }>();
    for (let i = doomed.length - 1; i >= 0; i--) {
      const e = doomed[i]!;
      if (e.op === 'put') touched.set(`${e.db}\u0000${e.id}`, { db: e.db, id: e.id });
      else if (e.op === 'db_create') this.#dropDb(e.db);
      else if (e.op === 'db_delete') this.#setMeta({ needsSnapshot: true });
    }
    for (const { db, id } of touched.values()) {
      const head = this.#q.getHead.get(db, id) as DocRow | undefined;
      const rev = this.#q.newestRevision.get(db, id) as (Omit<DocRow, 'rowid'>) | undefined;
      if (rev) {
        this.#writeHead(db, JSON.parse(rev.body) as Doc, rev.body, rev.seq, rev.parent_rev, rev.created);
      } else if (head) {
        this.#q.deleteFts.run(head.rowid);
        this.#q.deleteDoc.run(db, id);
      }
    }
    return doomed.length;
  }

  /** Entries with seq > since, at most `limit`, as a ready-made JSON body. */
  walJson(since: number, limit: number, metaOnly: boolean): string {
    const meta = this.meta();
    const last = this.last(meta);
    if (since + 1 < meta.baseSeq + 1 && since < last.seq) {
      throw new TesseraError('gone', `seq ${since + 1} was trimmed; oldest is ${meta.baseSeq + 1}`, { oldestSeq: meta.baseSeq + 1, lastSeq: last.seq });
    }
    const rows = this.#q.walPage.all(since, limit) as LogRow[];
    const parts = rows.map((r) => `{"seq":${r.seq},"term":${r.term},"op":"${r.op}","db":${JSON.stringify(r.db)},"id":${JSON.stringify(r.id)},"rev":${JSON.stringify(r.rev)},"doc":${metaOnly ? 'null' : (r.doc ?? 'null')},"ts":${r.ts}}`);
    return `{"entries":[${parts.join(',')}],"lastSeq":${last.seq},"oldestSeq":${meta.baseSeq + 1},"term":${meta.term},"role":"${meta.role}"}`;
  }

  /** The entries of the log with seq > since (tests and tools). */
  entries(since = 0, limit = 1_000_000): LogEntry[] {
    return (this.#q.walPage.all(since, limit) as LogRow[]).map(toEntry);
  }

  /** Trims the WAL when enough entries may go (cheap to call after every commit). */
  trim(minChunk = Math.min(1000, Math.ceil(this.#retention / 10))): number {
    const plan = () => {
      const meta = this.meta();
      const last = this.last(meta);
      const commitSeq = this.#commitSeq(meta, last.seq);
      return { meta, commitSeq, upTo: planTrim({ baseSeq: meta.baseSeq, lastSeq: last.seq, commitSeq, keep: this.#keep, retention: this.#retention, minChunk }) };
    };
    if (plan().upTo === null) return 0; // the common case: no transaction at all
    return this.#tx(() => {
      const { meta, commitSeq, upTo } = plan();
      if (upTo === null) return 0;
      // Trimmed entries count as committed from now on (replicate rule 3).
      if (commitSeq > meta.commitSeq) this.#setMeta({ commitSeq });
      const at = this.#q.termAt.get(upTo) as { term: number } | undefined;
      assert.ok(at, `trim point ${upTo} not in the log`);
      const { changes } = this.#q.deleteLogUpTo.run(upTo);
      this.#lastCache = null;
      this.#setMeta({ baseSeq: upTo, baseTerm: at.term });
      return changes;
    });
  }

  /** The NDJSON snapshot of this node (see snapshot-reader.ts). */
  snapshotLines(): Generator<string> {
    return snapshotLines(this.path);
  }

  /** Replaces everything with a snapshot held in memory (tests, tools). */
  installSnapshot(lines: SnapshotLine[], term: number, primaryId: string): NodeState {
    this.beginSnapshot(term);
    try {
      this.stageSnapshot(lines);
      return this.commitSnapshot(term, primaryId);
    } catch (err) {
      this.abortSnapshot();
      throw err;
    }
  }

  /**
   * Starts a streamed install (shard/DESIGN.md): lines are staged in TEMP
   * tables chunk by chunk (no fsync, no lock on the main file, bounded
   * memory), then `commitSnapshot` swaps them in with one transaction — all
   * or nothing. `abortSnapshot` drops the staging; nothing else changed.
   */
  beginSnapshot(term: number): void {
    if (this.#staging) throw new TesseraError('unavailable', 'a snapshot install is already running');
    this.#checkSnapshotTerm(this.meta(), term); // fail before the stream is read; checked again at commit
    this.#db.exec(`
      DROP TABLE IF EXISTS temp.snap_dbs; DROP TABLE IF EXISTS temp.snap_docs;
      CREATE TEMP TABLE snap_dbs (name TEXT PRIMARY KEY);
      CREATE TEMP TABLE snap_docs (db TEXT NOT NULL, id TEXT NOT NULL, rev TEXT NOT NULL, deleted INTEGER NOT NULL, body TEXT NOT NULL,
        seq INTEGER NOT NULL, parent_rev TEXT, created INTEGER NOT NULL, content TEXT, PRIMARY KEY (db, id));`);
    this.#staging = {
      end: null,
      insertDb: this.#db.prepare('INSERT INTO temp.snap_dbs (name) VALUES (?)'),
      insertDoc: this.#db.prepare('INSERT INTO temp.snap_docs (db, id, rev, deleted, body, seq, parent_rev, created, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    };
    this.#onEvent?.('installing snapshot', { term });
  }

  /** Stages a chunk of snapshot lines (one small transaction on TEMP tables). */
  stageSnapshot(lines: ReadonlyArray<SnapshotLine>): void {
    const st = this.#staging;
    assert.ok(st, 'stageSnapshot without beginSnapshot');
    try {
      this.#db.transaction(() => {
        for (const line of lines) {
          if (st.end) throw errors.badRequest('snapshot has lines after its end line: refused');
          if (line.type === 'end') st.end = line;
          else if (line.type === 'db') st.insertDb.run(line.name);
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

  commitSnapshot(term: number, primaryId: string): NodeState {
    const st = this.#staging;
    assert.ok(st, 'commitSnapshot without beginSnapshot');
    const end = st.end;
    try {
      if (!end) throw errors.badRequest('snapshot stream has no end line: refused');
      this.#tx(() => {
        const meta = this.meta();
        this.#checkSnapshotTerm(meta, term);
        this.#db.exec(`
          DELETE FROM docs_fts; DELETE FROM docs; DELETE FROM revisions; DELETE FROM dbs; DELETE FROM log;
          INSERT INTO dbs (name, seq) SELECT name, 0 FROM temp.snap_dbs;
          INSERT INTO docs (db, id, rev, deleted, body, seq, parent_rev, created)
            SELECT db, id, rev, deleted, body, seq, parent_rev, created FROM temp.snap_docs ORDER BY db, id;
          INSERT INTO revisions (db, id, rev, seq, deleted, body, parent_rev, created)
            SELECT db, id, rev, seq, deleted, body, parent_rev, created FROM temp.snap_docs;
          INSERT INTO docs_fts (rowid, content)
            SELECT d.rowid, s.content FROM temp.snap_docs s JOIN docs d ON d.db = s.db AND d.id = s.id WHERE s.content IS NOT NULL;`);
        this.#lastCache = null;
        this.#dbsCache = null;
        this.#setMeta({
          term: Math.max(term, meta.term),
          votedFor: term > meta.term ? null : meta.votedFor,
          role: 'replica',
          primaryId,
          baseSeq: end.seq,
          baseTerm: end.term,
          commitSeq: Math.min(meta.commitSeq, end.seq),
          needsSnapshot: false,
        });
      });
    } finally {
      this.abortSnapshot();
    }
    this.#primaryLastSeq = end.seq;
    this.#onEvent?.('snapshot installed', { seq: end.seq, term: end.term, docs: end.docs, dbs: end.dbs, primaryId });
    return this.state();
  }

  #checkSnapshotTerm(meta: Meta, term: number): void {
    if (term < meta.term || (term === meta.term && meta.role === 'primary')) {
      throw new TesseraError('stale_term', `snapshot from term ${term}, node at term ${meta.term}`, { term: meta.term, primaryId: meta.primaryId });
    }
  }

  abortSnapshot(): void {
    if (!this.#staging) return;
    this.#staging = null;
    this.#db.exec('DROP TABLE IF EXISTS temp.snap_dbs; DROP TABLE IF EXISTS temp.snap_docs;');
  }

  // ---- reads -------------------------------------------------------------

  listDbs(): string[] {
    return (this.#q.listDbs.all() as Array<{ name: string }>).map((r) => r.name);
  }

  dbInfo(db: string): { db: string; docCount: number; deletedCount: number; seq: number } {
    const row = this.#q.getDb.get(db) as { seq: number } | undefined;
    if (!row) throw errors.notFound(`database ${db} not found`);
    const c = this.#q.dbCounts.get(db) as { live: number | null; dead: number | null; seq: number | null };
    return { db, docCount: c.live ?? 0, deletedCount: c.dead ?? 0, seq: Math.max(row.seq, c.seq ?? 0) };
  }

  /** The doc's JSON (head, or `rev` if kept); not_found for a deleted head. */
  getDoc(db: string, id: string, rev?: string): string {
    this.#requireDb(db);
    if (rev !== undefined) {
      const r = this.#q.getRevision.get(db, id, rev) as { body: string } | undefined;
      if (!r) throw errors.notFound(`document ${id} has no kept revision ${rev}`);
      return r.body;
    }
    const row = this.#q.getHead.get(db, id) as DocRow | undefined;
    if (!row || row.deleted === 1) throw errors.notFound(`document ${id} not found`);
    return row.body;
  }

  /** `{total, items, next}` in id order, as JSON. */
  allDocsJson(db: string, q: ListQuery & { startAfter?: string; includeDeleted: boolean }): string {
    this.#requireDb(db);
    const total = (this.#q.countLive.get(db) as { n: number }).n;
    const after = q.startAfter ?? '';
    const rows = (q.includeDeleted ? this.#q.pageAll : this.#q.pageLive).all(db, after, q.limit + 1, q.skip) as Array<{ id: string; body: string }>;
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    const next = more ? page.at(-1)!.id : null;
    return `{"total":${total},"items":[${page.map((r) => r.body).join(',')}],"next":${JSON.stringify(next)}}`;
  }

  findFieldsJson(db: string, query: FieldsQuery & ListQuery): string {
    return this.#scan(db, (doc) => matchesFields(doc, query), query);
  }

  findTagsJson(db: string, query: TagsQuery & ListQuery): string {
    return this.#scan(db, (doc) => matchesTags(doc, query), query);
  }

  #scan(db: string, match: (doc: Doc) => boolean, page: ListQuery): string {
    this.#requireDb(db);
    let total = 0;
    const items: string[] = [];
    for (const row of this.#q.scanLive.iterate(db) as IterableIterator<{ body: string }>) {
      if (!match(JSON.parse(row.body) as Doc)) continue;
      if (total >= page.skip && items.length < page.limit) items.push(row.body);
      total++;
    }
    return `{"total":${total},"items":[${items.join(',')}]}`;
  }

  /** FTS5 over `content`; a malformed query is the client's error. */
  searchJson(db: string, q: string, page: ListQuery): string {
    this.#requireDb(db);
    try {
      const total = (this.#q.searchCount.get(q, db) as { n: number }).n;
      const rows = this.#q.searchPage.all(q, db, page.limit, page.skip) as Array<{ body: string }>;
      return `{"total":${total},"items":[${rows.map((r) => r.body).join(',')}]}`;
    } catch (err) {
      if (err instanceof Database.SqliteError && /fts5|syntax|no such column|unterminated/i.test(err.message)) {
        throw errors.badRequest(`querystring.q: invalid full-text query: ${err.message}`, { path: 'querystring.q' });
      }
      throw err;
    }
  }

  /** Each doc once, at the seq that last wrote it, with since < seq <= until. */
  changes(db: string, since: number, limit: number, until?: number): { results: Array<{ id: string; rev: string; deleted?: true; seq: number }>; last: number } {
    this.#requireDb(db);
    const top = until ?? Number.MAX_SAFE_INTEGER;
    const rows = this.#q.changes.all(db, since, top, limit) as Array<{ id: string; rev: string; deleted: number; seq: number }>;
    const results = rows.map((r) => (r.deleted ? { id: r.id, rev: r.rev, deleted: true as const, seq: r.seq } : { id: r.id, rev: r.rev, seq: r.seq }));
    // A short page means everything up to `until` (or our log end) was seen.
    const last = rows.length === limit ? rows.at(-1)!.seq : Math.max(since, Math.min(top, this.last().seq));
    return { results, last };
  }

  rollbackEntries(): Array<LogEntry & { rolledBackAt: number; byTerm: number }> {
    return (this.#q.rollbackRows.all() as Array<LogRow & { rolled_back_at: number; by_term: number }>).map((r) => ({
      ...toEntry(r), rolledBackAt: r.rolled_back_at, byTerm: r.by_term,
    }));
  }
}

function toEntry(r: LogRow): LogEntry {
  return { seq: r.seq, term: r.term, op: r.op, db: r.db, id: r.id, rev: r.rev, doc: r.doc === null ? null : (JSON.parse(r.doc) as Doc), ts: r.ts };
}
