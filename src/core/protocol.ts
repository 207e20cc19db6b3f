// Wire types shared by router and shard nodes. Paths are contract (DESIGN
// §5.2); bodies may grow. Read router/DESIGN.md and shard/DESIGN.md for the
// rules behind each field.

export type Role = 'primary' | 'replica';

/** A log position: an entry's seq and the term it was written in. */
export interface SeqTerm {
  seq: number;
  term: number;
}

/** A document as stored and served (DESIGN §4). */
export interface Doc {
  id: string;
  rev: string;
  deleted?: true;
  data: Record<string, unknown>;
  tags?: string[];
  content?: string;
}

/**
 * One log (WAL) entry. `seq` is per shard and strictly +1 per entry; `term` is
 * the primary's term when it wrote the entry. Entries carry full images, so
 * applying one is an overwrite: re-applying is harmless.
 *  - put:       doc is the new head (a tombstone when doc.deleted)
 *  - db_create: db created (id '', rev '', doc null)
 *  - db_delete: db and all its documents removed
 *  - noop:      written by a new primary on promotion so that entries of
 *               earlier terms commit with an entry of the current term
 *  - repair:    `tessera verify --repair` (router/VERIFY.md): doc is a
 *               RepairImage, the primary's head of (db, id) when it wrote the
 *               entry; every copy that applies it sets its head (or its
 *               absence) to exactly that, so copies that diverged behind the
 *               log's back are made equal through the log itself
 */
export type EntryOp = 'put' | 'db_create' | 'db_delete' | 'noop' | 'repair';

/**
 * The doc of a `repair` entry: the primary's head row of (db, id) — its
 * document (null: the primary has none), the seq that wrote it, its parent
 * rev and whether that write created it — so the repaired copy's row is the
 * primary's, byte for byte, and a later retry or rollback sees what the
 * primary would.
 */
export interface RepairImage {
  doc: Doc | null;
  seq: number | null;
  parentRev: string | null;
  created: boolean;
}

export interface LogEntry {
  seq: number;
  term: number;
  op: EntryOp;
  db: string;
  id: string;
  rev: string;
  /** A RepairImage for op `repair` (see there). */
  doc: Doc | null;
  ts: number;
  /**
   * On the last entry a keyed write (Idempotency-Key) wrote: the key, the
   * request's fingerprint and the answer, so that every copy — and so a
   * future primary — answers a retry with that key like the first time.
   */
  idem?: IdempotencyRecord;
}

export interface IdempotencyRecord {
  key: string;
  /** Hash of the request (method, path, If-Match, body): the key may not be reused for another one. */
  fingerprint: string;
  status: number;
  /** The node's answer, as JSON. */
  body: string;
}

/** Client header that makes a write exactly-once across retries and routers (IETF httpapi Idempotency-Key draft). */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** What a key may look like: printable ASCII without spaces, at most 200 characters. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;
/**
 * How long a node keeps an Idempotency-Key record (from when it wrote it):
 * a retry within a day is answered like the first attempt, a later one is a
 * new request. A day covers any client's retry loop (the draft leaves expiry
 * to the server; Stripe keeps keys 24 h) and bounds the table.
 */
export const IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * The vote a node records when it joins at a term (shard/DESIGN.md
 * "Incarnations"): it may have voted in that term before its data dir was
 * wiped, so it votes there for nobody. Not a valid node id.
 */
export const JOINED_VOTE = '(joined)';

/** POST /v1/_replication/join: the shard's current term as a router read it from a majority of the other nodes. */
export interface JoinRequest {
  term: number;
  role: Role;
  primaryId: string | null;
}

/** GET /v1/_replication/state */
export interface NodeState {
  nodeId: string;
  shardId: number;
  role: Role;
  term: number;
  votedFor: string | null;
  primaryId: string | null;
  lastSeq: number;
  lastTerm: number;
  commitSeq: number;
  /** Lowest seq still in the log; lastSeq + 1 when the log is empty. */
  oldestSeq: number;
  ready: boolean;
  /** Entries moved to the rollback table so far. */
  rollbackCount: number;
  /**
   * false for a fresh data dir no router has joined to the shard yet: it
   * neither votes, nor takes writes, nor counts toward a quorum (absent on
   * answers of nodes older than this field: joined).
   */
  joined?: boolean;
  /** Minted with the data dir: a node wiped and restarted has a new one. */
  incarnation?: string;
}

/**
 * POST /v1/_replication/replicate. `entries` are contiguous and start at
 * prevSeq + 1. `truncate`: the batch ends at the primary's lastSeq as the
 * sender last read it, so the receiver rolls back any entries of a lower
 * term that follow it (they were never in the primary's log).
 */
export interface ReplicateRequest {
  term: number;
  primaryId: string;
  commitSeq: number;
  prevSeq: number;
  prevTerm: number;
  truncate?: boolean;
  entries: LogEntry[];
  /**
   * The primary's lastSeq when the batch was cut (optional). A replica is
   * `ready` once it has heard the primary's position (this, or a batch with
   * `truncate`, which ends at it) and is within 1000 entries of it.
   */
  primaryLastSeq?: number;
  /**
   * How long ago (ms) the sending router last heard from the primary of
   * `term` (absent: not lately). The replica then holds on to that primary
   * (leader stickiness): while it heard of it less than a failover timeout
   * ago it refuses votes without taking their term, so a router that merely
   * cannot reach a live primary cannot depose it.
   */
  primaryHeardMsAgo?: number;
}

export interface ReplicateResponse {
  ok: true;
  term: number;
  lastSeq: number;
  lastTerm: number;
  /** Entries this request rolled back (moved to the rollback table). */
  rolledBack: number;
  /** false while the node's fresh data dir has not been joined: its copy does not count toward a quorum. */
  joined?: boolean;
}

/** 409 gap body (besides ok/error/message). */
export interface GapDetails {
  lastSeq: number;
  lastTerm: number;
  /** true when prevSeq exists here but with another term. */
  mismatch: boolean;
  /** The node cannot repair its log locally: install a snapshot. */
  needsSnapshot?: boolean;
}

export interface VoteRequest {
  term: number;
  candidateId: string;
  lastTerm: number;
  lastSeq: number;
  /**
   * A planned switchover (POST /v1/_cluster/shards/{id}/failover): the voter
   * grants even though its primary is alive (leader stickiness is waived).
   */
  force?: boolean;
}

export interface VoteResponse {
  granted: boolean;
  term: number;
  reason?: string;
}

export interface PromoteRequest {
  term: number;
}

export interface PromoteResponse {
  ok: true;
  role: 'primary';
  term: number;
  lastSeq: number;
}

/** GET /v1/_replication/wal?since=S&limit=L[&meta=1] (meta: entries without doc). */
export interface WalResponse {
  entries: LogEntry[];
  lastSeq: number;
  oldestSeq: number;
  /** The serving node's term and role: a relay reads only from the primary of its term. */
  term?: number;
  role?: Role;
}

/**
 * GET /v1/_replication/snapshot: NDJSON, one SnapshotLine per line, `end`
 * last. A stream without its `end` line is incomplete and must be refused.
 * POST to the same path installs such a stream (with ?term&primaryId).
 */
export type SnapshotLine =
  | { type: 'db'; name: string }
  /** parentRev/created (optional) keep idempotent-retry detection across an install. */
  | { type: 'doc'; db: string; seq: number; doc: Doc; parentRev?: string | null; created?: boolean }
  /** An Idempotency-Key record (a copy rebuilt from a snapshot still answers retries like the first time). */
  | ({ type: 'idem'; seq: number; ts: number } & IdempotencyRecord)
  | { type: 'end'; seq: number; term: number; docs: number; dbs: number };

// Every x-tessera-* header, in one place (router/DESIGN.md says what each carries).
/** A router stamps its writes with its view of the shard's term; a primary at another term refuses them. */
export const TERM_HEADER = 'x-tessera-term';
/** The router's commit point, piggybacked on writes and state polls. */
export const COMMIT_HEADER = 'x-tessera-commit';
/** The lowest match point of the replicas that answer: the primary keeps its WAL above it. */
export const KEEP_HEADER = 'x-tessera-keep';
/** On a node's read answer: the seq of the revision served (0: none at the read point). */
export const SEQ_HEADER = 'x-tessera-seq';
/** On a node's read answer: a newer write of that document (or its db) above the read point, not committed yet. */
export const PENDING_HEADER = 'x-tessera-pending-seq';

export const REPLICATION_PREFIX = '/v1/_replication';
