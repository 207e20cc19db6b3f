import Database, { type Database as Db } from 'better-sqlite3';
import { errors } from '../../src/core/errors.ts';
import type { LogEntry, Role, SeqTerm } from '../../src/core/protocol.ts';
import { migrate } from './schema.ts';
import { prepare, type Statements } from './statements.ts';

// The node's one SQLite connection and what every part of the store shares:
// the prepared statements, the transaction helper, and write-through caches
// of the rows every write reads (meta, the log's last position, the db
// names). A cache is dropped whenever a transaction or savepoint fails,
// because its writes were undone.

export interface Meta {
  term: number;
  votedFor: string | null;
  role: Role;
  primaryId: string | null;
  commitSeq: number;
  baseSeq: number;
  baseTerm: number;
  needsSnapshot: boolean;
  /** false for a fresh data dir no router has joined to its shard yet (shard/DESIGN.md "Incarnations"). */
  joined: boolean;
  /** Minted with the data dir: a wiped and restarted node has a new one. */
  incarnation: string;
}

/** A document's head row. */
export interface DocRow {
  rowid: number;
  rev: string;
  deleted: number;
  body: string;
  seq: number;
  parent_rev: string | null;
  created: number;
}

/** A log entry as SQLite holds it: the document and the idempotency record still as JSON text. */
export type LogRow = Omit<LogEntry, 'doc' | 'idem'> & { doc: string | null; idem: string | null };

export interface ContextOptions {
  path: string;
  synchronous: 'FULL' | 'NORMAL' | 'OFF';
  /** The shard has this one node: a write is committed as soon as it is durable here. */
  commitsAlone: boolean;
  now: () => number;
  onEvent: ((event: string, details: Record<string, unknown>) => void) | undefined;
}

export class StoreContext {
  readonly db: Db;
  readonly q: Statements;
  readonly now: () => number;
  readonly onEvent: ContextOptions['onEvent'];
  readonly #commitsAlone: boolean;
  /** The schema was created by this open (a brand-new file). */
  readonly created: boolean;
  /**
   * The primary's lastSeq as last heard (memory only: unknown after a
   * restart, and forgotten with every new term: a new primary's position is
   * unknown until its first batch).
   */
  primaryLastSeq: number | null = null;
  /**
   * When (this node's clock) its term's primary was last known alive, from a
   * router's replicate (`primaryHeardMsAgo`): leader stickiness. Memory only:
   * a restarted node holds on to no primary.
   */
  primaryAliveAtMs: number | null = null;
  /**
   * The router's commit point (x-tessera-commit), kept in memory and
   * persisted with the next write, so noting it never costs an fsync of its
   * own; losing it in a crash only makes the node more conservative.
   */
  reportedCommit = 0;
  /** Lowest seq an in-sync replica still needs (x-tessera-keep); null = commitSeq. */
  keep: number | null = null;
  #meta: Meta | null = null;
  #last: SeqTerm | null = null;
  #dbs: Set<string> | null = null;
  /** Seq of the newest db_create/db_delete in the log (committed reads check it first). */
  #lastDbOp: number | null = null;

  constructor(opts: ContextOptions) {
    this.now = opts.now;
    this.onEvent = opts.onEvent;
    this.#commitsAlone = opts.commitsAlone;
    this.db = new Database(opts.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.synchronous}`);
    this.db.pragma('busy_timeout = 5000');
    this.created = migrate(this.db);
    this.q = prepare(this.db);
  }

  /** Runs `fn` in one transaction (a savepoint when one is already open). */
  tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      this.dropCaches();
      throw err;
    }
  }

  dropCaches(): void {
    this.#meta = null;
    this.#last = null;
    this.#dbs = null;
    this.#lastDbOp = null;
  }

  meta(): Meta {
    this.#meta ??= this.#readMeta();
    return { ...this.#meta };
  }

  #readMeta(): Meta {
    const m = new Map((this.q.allMeta.all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    return {
      term: Number(m.get('term')),
      votedFor: m.get('votedFor') || null,
      role: m.get('role') as Role,
      primaryId: m.get('primaryId') || null,
      commitSeq: Number(m.get('commitSeq')),
      baseSeq: Number(m.get('baseSeq')),
      baseTerm: Number(m.get('baseTerm')),
      needsSnapshot: m.get('needsSnapshot') === '1',
      joined: m.get('joined') === '1',
      incarnation: m.get('incarnation') ?? '',
    };
  }

  setMeta(patch: Partial<Meta>): void {
    if (patch.term !== undefined && patch.term !== this.#meta?.term) {
      this.primaryLastSeq = null;
      this.primaryAliveAtMs = null;
    }
    for (const [k, v] of Object.entries(patch)) {
      const value = v === null ? '' : typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
      this.q.setMeta.run(k, value);
    }
    if (this.#meta) Object.assign(this.#meta, patch);
    // An empty log's last entry is the base: keep them in step.
    if (patch.baseSeq !== undefined || patch.baseTerm !== undefined) this.#last = null;
  }

  /** The log's last (seq, term): its base when the log is empty. */
  last(meta: Meta = this.meta()): SeqTerm {
    if (!this.#last) {
      const row = this.q.lastEntry.get() as SeqTerm | undefined;
      this.#last = row ?? { seq: meta.baseSeq, term: meta.baseTerm };
    }
    return { ...this.#last };
  }

  /** The log grew or shrank: `last` is the new end, or null to re-read it. */
  setLast(last: SeqTerm | null): void {
    this.#last = last;
  }

  /**
   * The commit point this node knows: its own, and on a primary also the
   * router's up to the log's end. A primary's log holds every committed
   * entry, so a router's commit point names entries of that very log; a
   * replica's tail past its match point may still diverge, so only what the
   * replicate rule raised (capped at a batch's end) counts there.
   */
  commitSeq(meta: Meta = this.meta(), lastSeq: number = this.last(meta).seq): number {
    if (meta.role !== 'primary') return meta.commitSeq;
    if (this.#commitsAlone) return lastSeq;
    return Math.max(meta.commitSeq, Math.min(this.reportedCommit, lastSeq));
  }

  /**
   * The read point of a committed read: this node's commit point, raised by
   * the reader's (a router sends the commit point it has counted, which may be
   * ahead of what the node has been told; for a replica it sends no more than
   * the replica's match point, below which the replica's log is the primary's).
   * Only for this read: it is never persisted.
   */
  readPoint(readerCommit?: number): number {
    const meta = this.meta();
    const last = this.last(meta).seq;
    const own = this.commitSeq(meta, last);
    return readerCommit === undefined ? own : Math.max(own, Math.min(readerCommit, last));
  }

  lastDbOpSeq(): number {
    this.#lastDbOp ??= (this.q.lastDbOp.get() as { seq: number | null }).seq ?? 0;
    return this.#lastDbOp;
  }

  /** A db op entered the log (null: it shrank; re-read). */
  noteDbOp(seq: number | null): void {
    this.#lastDbOp = seq === null ? null : Math.max(seq, this.#lastDbOp ?? 0);
  }

  hasDb(name: string): boolean {
    this.#dbs ??= new Set((this.q.listDbs.all() as Array<{ name: string }>).map((r) => r.name));
    return this.#dbs.has(name);
  }

  requireDb(db: string): void {
    if (!this.hasDb(db)) throw errors.notFound(`database ${db} not found`);
  }

  /** A db was created or dropped (or the whole set replaced, with null). */
  noteDb(name: string | null, exists: boolean): void {
    if (name === null) this.#dbs = null;
    else if (exists) this.#dbs?.add(name);
    else this.#dbs?.delete(name);
  }

  close(): void {
    this.db.close();
  }
}
