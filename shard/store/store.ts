import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import type { DocBody } from '../../src/core/doc/rev.ts';
import { TesseraError, errors } from '../../src/core/errors.ts';
import type {
  Doc, JoinRequest, LogEntry, NodeState, PromoteRequest, PromoteResponse, ReplicateRequest, ReplicateResponse, Role, SnapshotLine,
  VoteRequest, VoteResponse,
} from '../../src/core/protocol.ts';
import { IDEMPOTENCY_RETENTION_MS, JOINED_VOTE } from '../../src/core/protocol.ts';
import { decidePromote, decideReplicate, decideVote, planTrim, type TailEntry } from '../../src/rules/index.ts';
import { StoreContext, type Meta } from './context.ts';
import { appendEntry, rollbackAfter, walJson } from './log.ts';
import { Queries, type DocRead, type ListQuery } from './queries.ts';
import type { FieldsQuery, TagsQuery } from './query-match.ts';
import { SnapshotInstall, type InstallPrecondition } from './snapshot-install.ts';
import { PrimaryWrites, assertPrimaryAt, type BulkDoc, type BulkItem, type WriteGuard, type WriteResult } from './writes.ts';
import { snapshotLines } from './snapshot-reader.ts';

// The node's durable state behind one better-sqlite3 connection. Every public
// write is synchronous and runs in its own transaction, which becomes a
// savepoint when the caller (group commit) already holds one — so a batch of
// writes shares one commit and one fsync while each write can fail alone.
// The parts: context.ts (connection, statements, caches), log.ts (the one
// appendEntry, rollback, WAL pages), queries.ts (reads), snapshot-install.ts.
// This file holds what needs the node's state machine: writes, replication
// (vote, promote, replicate), readiness and trimming.

export type { Meta, ListQuery, DocRead, WriteResult, WriteGuard, BulkDoc, BulkItem };

export interface StoreOptions {
  path: string;
  nodeId: string;
  shardId: number;
  /**
   * Role and primary a brand-new file starts with (config order, term 1);
   * `joined` (default false): a new file still needs a router to join it to
   * its shard before it votes, takes writes or counts toward a quorum. A
   * one-node shard (`commitsAlone`) joins itself: there is nobody to learn from.
   */
  initial: { role: Role; primaryId: string; joined?: boolean };
  /** Leader stickiness window for votes (failoverTimeoutMs less one health interval); 0: none. */
  stickyMs?: number;
  walRetention: number;
  synchronous?: 'FULL' | 'NORMAL' | 'OFF';
  /** The shard has this one node (writeQuorum 1): its own durable writes are committed. */
  commitsAlone?: boolean;
  now?: () => number;
  /** Lifecycle events (role or term changes, rollbacks, snapshot installs) for the log. */
  onEvent?: (event: string, details: Record<string, unknown>) => void;
}

const IDEMPOTENCY_SWEEP_MS = 60_000;

/** Replicas within this many entries of the primary count as caught up. */
export const READY_LAG_ENTRIES = 1000;

export class Store {
  readonly nodeId: string;
  readonly shardId: number;
  readonly path: string;
  readonly #ctx: StoreContext;
  readonly #queries: Queries;
  readonly #snapshot: SnapshotInstall;
  readonly #retention: number;
  readonly #writes: PrimaryWrites;
  readonly #stickyMs: number;
  #idemSweptAt = -Infinity;
  #closed = false;

  constructor(opts: StoreOptions) {
    this.nodeId = opts.nodeId;
    this.shardId = opts.shardId;
    this.path = opts.path;
    this.#retention = opts.walRetention;
    const ctx = new StoreContext({
      path: opts.path, synchronous: opts.synchronous ?? 'FULL', commitsAlone: opts.commitsAlone ?? false, now: opts.now ?? Date.now, onEvent: opts.onEvent,
    });
    this.#ctx = ctx;
    this.#queries = new Queries(ctx);
    this.#snapshot = new SnapshotInstall(ctx);
    this.#writes = new PrimaryWrites(ctx);
    if (ctx.created) {
      ctx.tx(() => {
        ctx.setMeta({
          term: 1, votedFor: null, role: opts.initial.role, primaryId: opts.initial.primaryId,
          commitSeq: 0, baseSeq: 0, baseTerm: 0, needsSnapshot: false,
          joined: opts.initial.joined ?? opts.commitsAlone ?? false, incarnation: randomBytes(8).toString('hex'),
        });
        ctx.q.setMeta.run('nodeId', opts.nodeId);
        ctx.q.setMeta.run('shardId', String(opts.shardId));
      });
    } else {
      const owner = ctx.q.getMeta.get('nodeId') as { value: string } | undefined;
      if (owner && owner.value !== opts.nodeId) {
        ctx.close();
        throw new Error(`${opts.path} belongs to node ${owner.value}, not ${opts.nodeId}`);
      }
      // A file from before incarnations (schema 1) gets one now.
      if (ctx.meta().incarnation === '') ctx.tx(() => ctx.setMeta({ incarnation: randomBytes(8).toString('hex') }));
    }
    this.#stickyMs = opts.stickyMs ?? 0;
  }

  /** Runs `fn` in one transaction (a savepoint when one is already open). */
  transaction<T>(fn: () => T): T {
    return this.#ctx.tx(fn);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ctx.close();
  }

  // ---- state -------------------------------------------------------------

  meta(): Meta {
    return this.#ctx.meta();
  }

  last(): { seq: number; term: number } {
    return this.#ctx.last();
  }

  state(): NodeState {
    const meta = this.#ctx.meta();
    const last = this.#ctx.last(meta);
    return {
      nodeId: this.nodeId,
      shardId: this.shardId,
      role: meta.role,
      term: meta.term,
      votedFor: meta.votedFor,
      primaryId: meta.primaryId,
      lastSeq: last.seq,
      lastTerm: last.term,
      commitSeq: this.#ctx.commitSeq(meta, last.seq),
      oldestSeq: meta.baseSeq + 1,
      ready: this.#ready(meta, last.seq),
      rollbackCount: (this.#ctx.q.rollbackCount.get() as { n: number }).n,
      joined: meta.joined,
      incarnation: meta.incarnation,
    };
  }

  #ready(meta: Meta, lastSeq: number): boolean {
    if (meta.needsSnapshot) return false;
    if (meta.role === 'primary') return true;
    const heard = this.#ctx.primaryLastSeq;
    return heard !== null && lastSeq >= heard - READY_LAG_ENTRIES;
  }

  /** Why the node is not ready, or null when it is. */
  notReadyReason(): string | null {
    const meta = this.#ctx.meta();
    if (meta.needsSnapshot) return 'needs a snapshot';
    if (this.#ready(meta, this.#ctx.last(meta).seq)) return null;
    return this.#ctx.primaryLastSeq === null ? 'has not heard from the primary yet' : 'catching up';
  }

  /**
   * The router's commitSeq (x-tessera-commit). Kept in memory and persisted
   * with the next write, so noting it never costs an fsync of its own; losing
   * it in a crash only makes the node more conservative.
   */
  noteCommitSeq(seq: number): void {
    if (seq > this.#ctx.reportedCommit) this.#ctx.reportedCommit = seq;
  }

  noteKeep(seq: number): void {
    this.#ctx.keep = seq;
  }

  // ---- primary writes (writes.ts) ---------------------------------------

  createDb(name: string, guard: WriteGuard = {}) { return this.#writes.createDb(name, guard); }
  deleteDb(name: string, guard: WriteGuard = {}) { return this.#writes.deleteDb(name, guard); }
  putDoc(db: string, id: string, rev: string | undefined, body: DocBody, guard: WriteGuard = {}) { return this.#writes.putDoc(db, id, rev, body, guard); }
  deleteDoc(db: string, id: string, rev: string, guard: WriteGuard = {}) { return this.#writes.deleteDoc(db, id, rev, guard); }
  bulk(db: string, docs: BulkDoc[], newId: () => string, guard: WriteGuard = {}) { return this.#writes.bulk(db, docs, newId, guard); }
  repair(db: string, id: string, guard: WriteGuard = {}) { return this.#writes.repair(db, id, guard); }
  restore(db: string, docs: Doc[], guard: WriteGuard = {}) { return this.#writes.restore(db, docs, guard); }

  // ---- replication -------------------------------------------------------

  /** Runs a replication call and reports what it changed in role, term or health. */
  #observe<T>(fn: () => T): T {
    const onEvent = this.#ctx.onEvent;
    if (!onEvent) return fn();
    const before = this.#ctx.meta();
    try {
      return fn();
    } finally {
      const after = this.#ctx.meta();
      if (after.term !== before.term || after.role !== before.role) {
        onEvent(after.role === 'primary' && before.role !== 'primary' ? 'promoted' : before.role === 'primary' && after.role !== 'primary' ? 'stepped down' : 'new term', {
          term: after.term, role: after.role, primaryId: after.primaryId, previousTerm: before.term, previousRole: before.role,
        });
      }
      if (after.needsSnapshot && !before.needsSnapshot) onEvent('needs a snapshot', { term: after.term });
    }
  }

  vote(req: VoteRequest): VoteResponse {
    return this.#observe(() => this.#ctx.tx(() => {
      const ctx = this.#ctx;
      const meta = ctx.meta();
      const last = ctx.last(meta);
      const alive = ctx.primaryAliveAtMs;
      const d = decideVote({
        term: meta.term, votedFor: meta.votedFor, lastSeq: last.seq, lastTerm: last.term, joined: meta.joined,
        primaryHeardMsAgo: alive === null ? null : ctx.now() - alive, stickyMs: this.#stickyMs,
      }, req);
      if (d.stepDown) ctx.setMeta({ term: d.term, votedFor: d.votedFor, role: 'replica', primaryId: null });
      else if (d.votedFor !== meta.votedFor) ctx.setMeta({ votedFor: d.votedFor });
      return { granted: d.granted, term: d.term, ...(d.reason ? { reason: d.reason } : {}) };
    }));
  }

  promote(req: PromoteRequest): PromoteResponse {
    return this.#observe(() => this.#ctx.tx(() => {
      const meta = this.#ctx.meta();
      const d = decidePromote({ self: this.nodeId, term: meta.term, votedFor: meta.votedFor, role: meta.role }, req.term);
      if (d.kind === 'already') return { ok: true, role: 'primary', term: meta.term, lastSeq: this.#ctx.last(meta).seq };
      if (d.kind === 'refuse') throw new TesseraError('stale_term', d.reason, { term: meta.term, primaryId: meta.primaryId });
      this.#ctx.setMeta({ role: 'primary', primaryId: this.nodeId });
      // Entries of earlier terms commit only together with one of this term.
      const entry = this.#writes.append({ ...meta, role: 'primary' }, 'noop', '', '', '', null);
      return { ok: true, role: 'primary', term: meta.term, lastSeq: entry.seq };
    }));
  }

  /**
   * A router read the shard's current term from a majority of the other
   * nodes (src/rules/join.ts): the fresh data dir takes it, votes for nobody
   * in it (it may have voted there before it was wiped), and from now on
   * votes, takes writes (as primary) and counts toward quorums. A joined node
   * answers its state unchanged.
   */
  join(req: JoinRequest): NodeState {
    this.#observe(() => this.#ctx.tx(() => {
      const ctx = this.#ctx;
      const meta = ctx.meta();
      if (meta.joined) return;
      const term = Math.max(req.term, meta.term);
      const primary = req.role === 'primary' && term === 1;
      ctx.setMeta({
        joined: true, term, role: primary ? 'primary' : 'replica', votedFor: primary ? this.nodeId : JOINED_VOTE,
        primaryId: primary ? this.nodeId : req.primaryId,
      });
      ctx.onEvent?.('joined', { term, role: primary ? 'primary' : 'replica', incarnation: meta.incarnation });
    }));
    return this.state();
  }

  replicate(req: ReplicateRequest): ReplicateResponse {
    const res = this.#observe(() => this.#replicate(req));
    if (res.rolledBack > 0) this.#ctx.onEvent?.('rolled back', { entries: res.rolledBack, term: res.term, lastSeq: res.lastSeq });
    // Replicas keep walRetention entries too (DESIGN §5.5): a replica may be the next primary.
    this.trim();
    return res;
  }

  #replicate(req: ReplicateRequest): ReplicateResponse {
    const ctx = this.#ctx;
    // A refused batch (gap) must still persist the term it adopted: the error
    // is returned out of the transaction, not thrown inside it.
    const outcome = ctx.tx((): { error: TesseraError } | { res: ReplicateResponse } => {
      const meta = ctx.meta();
      const last = ctx.last(meta);
      const from = Math.max(req.prevSeq, meta.baseSeq + 1);
      const tail = ctx.q.tailFrom.all(from) as TailEntry[];
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
      // A router heard from this term's primary lately: hold on to it (votes, src/rules/vote.ts).
      // The latest sign of life wins: a router cut off from the primary reports an old one.
      if (req.primaryHeardMsAgo !== undefined) {
        const alive = ctx.now() - req.primaryHeardMsAgo;
        if (ctx.primaryAliveAtMs === null || alive > ctx.primaryAliveAtMs) ctx.primaryAliveAtMs = alive;
      }
      if (plan.kind === 'gap') {
        // Persisted, so the router installs a snapshot from the primary (shard/DESIGN.md "Replicate").
        if (plan.diverged) ctx.setMeta({ needsSnapshot: true });
        return { error: new TesseraError('gap', plan.diverged ? 'an entry with this (seq, term) but another rev is in the log' : undefined, { ...plan.details }) };
      }
      let rolledBack = 0;
      if (plan.rollbackAfter !== null) {
        rolledBack = rollbackAfter(ctx, plan.rollbackAfter, req.term);
        if (ctx.meta().needsSnapshot) {
          const now = ctx.last();
          return { error: new TesseraError('gap', 'a rolled-back db_delete cannot be undone locally', { lastSeq: now.seq, lastTerm: now.term, mismatch: true, needsSnapshot: true }) };
        }
      }
      for (let i = plan.appendFrom; i < req.entries.length; i++) appendEntry(ctx, req.entries[i]!);
      if (plan.commitSeq > meta.commitSeq) ctx.setMeta({ commitSeq: plan.commitSeq });
      const end = ctx.last();
      const heard = req.primaryLastSeq ?? (req.truncate ? plan.batchEnd : null);
      if (heard !== null) ctx.primaryLastSeq = heard;
      return { res: { ok: true, term: req.term, lastSeq: end.seq, lastTerm: end.term, rolledBack, joined: ctx.meta().joined } };
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
    if (Object.keys(patch).length > 0) this.#ctx.setMeta(patch);
  }

  /** Trims the WAL when enough entries may go (cheap to call after every commit). */
  trim(minChunk = Math.min(1000, Math.ceil(this.#retention / 10))): number {
    const ctx = this.#ctx;
    this.#expireIdempotency();
    const plan = () => {
      const meta = ctx.meta();
      const last = ctx.last(meta);
      const commitSeq = this.#ctx.commitSeq(meta, last.seq);
      return { meta, commitSeq, upTo: planTrim({ baseSeq: meta.baseSeq, lastSeq: last.seq, commitSeq, keep: ctx.keep, retention: this.#retention, minChunk }) };
    };
    if (plan().upTo === null) return 0; // the common case: no transaction at all
    return ctx.tx(() => {
      const { meta, commitSeq, upTo } = plan();
      if (upTo === null) return 0;
      // Trimmed entries count as committed from now on (replicate rule 3).
      if (commitSeq > meta.commitSeq) ctx.setMeta({ commitSeq });
      const at = ctx.q.termAt.get(upTo) as { term: number } | undefined;
      assert.ok(at, `trim point ${upTo} not in the log`);
      const { changes } = ctx.q.deleteLogUpTo.run(upTo);
      ctx.setLast(null);
      ctx.setMeta({ baseSeq: upTo, baseTerm: at.term });
      return changes;
    });
  }

  /** Drops Idempotency-Key records past their retention, at most once a minute (protocol.ts IDEMPOTENCY_RETENTION_MS). */
  #expireIdempotency(): void {
    const now = this.#ctx.now();
    if (now - this.#idemSweptAt < IDEMPOTENCY_SWEEP_MS) return;
    this.#idemSweptAt = now;
    this.#ctx.q.deleteIdempotencyBefore.run(now - IDEMPOTENCY_RETENTION_MS);
  }

  // ---- the log and snapshots, for the router -----------------------------

  walJson(since: number, limit: number, metaOnly: boolean): string {
    return walJson(this.#ctx, since, limit, metaOnly);
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

  /** A streamed install (snapshot-install.ts): begin, stage chunks, commit or abort. */
  beginSnapshot(term: number, expect?: InstallPrecondition): void {
    this.#snapshot.begin(term, expect);
  }

  stageSnapshot(lines: ReadonlyArray<SnapshotLine>): void {
    this.#snapshot.stage(lines);
  }

  commitSnapshot(term: number, primaryId: string, expect?: InstallPrecondition): NodeState {
    this.#snapshot.commit(term, primaryId, expect);
    return this.state();
  }

  abortSnapshot(): void {
    this.#snapshot.abort();
  }

  // ---- reads (queries.ts): committed only, as of a read point -----------

  /** A stamped (linearizable) read: 409 not_primary / stale_term unless this node is the primary of `term`. */
  assertPrimaryAt(term: number): void { assertPrimaryAt(this.#ctx.meta(), term); }
  /** See StoreContext.readPoint: the seq reads are served at (a reader's commit point counts on a primary). */
  readPoint(readerCommit?: number): number { return this.#ctx.readPoint(readerCommit); }
  listDbs(at = this.readPoint()): string[] { return this.#queries.listDbs(at); }
  dbInfo(db: string, at = this.readPoint()) { return this.#queries.dbInfo(db, at); }
  getDoc(db: string, id: string, rev?: string, at = this.readPoint()): DocRead { return this.#queries.getDoc(db, id, rev, at); }
  allDocsJson(db: string, q: ListQuery & { startAfter?: string; includeDeleted: boolean }, at = this.readPoint()): string { return this.#queries.allDocsJson(db, q, at); }
  findFieldsJson(db: string, q: FieldsQuery & ListQuery, at = this.readPoint()): string { return this.#queries.findFieldsJson(db, q, at); }
  findTagsJson(db: string, q: TagsQuery & ListQuery, at = this.readPoint()): string { return this.#queries.findTagsJson(db, q, at); }
  searchJson(db: string, q: string, page: ListQuery, at = this.readPoint()): string { return this.#queries.searchJson(db, q, page, at); }
  /** Changes with since < seq <= until, never above the read point. */
  changes(db: string, since: number, limit: number, until?: number, at = this.readPoint()) {
    return this.#queries.changes(db, since, limit, Math.min(until ?? at, at));
  }
  entries(since?: number, limit?: number): LogEntry[] { return this.#queries.entries(since, limit); }
  rollbackEntries() { return this.#queries.rollbackEntries(); }
}
