import type { SeqTerm } from '../core/protocol.ts';
import { findMatchSeq } from './log-match.ts';

// Pure decisions of a ReplicaStream (router/DESIGN.md "Replication"): what to
// do next, where a batch comes from, how a probe window moves and what its
// result means. The stream in replica-stream.ts only carries these out.

export type StreamMode = 'probe' | 'replicate' | 'snapshot';

export interface StreamStatus {
  mode: StreamMode;
  /** Highest seq known to match the primary's log; null = unknown (probe). */
  matchSeq: number | null;
  /** The replica's lastSeq as it last reported it. */
  replicaLastSeq: number;
  primaryLastSeq: number;
  commitSeq: number;
  /** commitSeq carried by the last batch sent. */
  sentCommitSeq: number;
  lastSentMs: number;
  backoffUntilMs: number;
  nowMs: number;
  /** Idle replicas still get an empty batch this often (they learn commitSeq, we learn they live). */
  heartbeatMs: number;
  /** How long a new commitSeq may wait for a batch to carry it before an empty batch does. */
  commitPushMs: number;
  /**
   * A linearizable read that started at this time waits for replicas to show
   * they are still at the stream's term (null: none waiting); `confirmedAtMs`
   * is when the last request the replica answered at that term was sent.
   */
  confirmSinceMs?: number | null;
  confirmedAtMs?: number;
}

export type StreamAction =
  | { kind: 'wait'; untilMs: number | null }
  | { kind: 'probe' }
  | { kind: 'snapshot' }
  | { kind: 'replicate' }
  | { kind: 'heartbeat' };

export function nextAction(s: StreamStatus): StreamAction {
  if (s.nowMs < s.backoffUntilMs) return { kind: 'wait', untilMs: s.backoffUntilMs };
  if (s.mode === 'snapshot') return { kind: 'snapshot' };
  if (s.mode === 'probe' || s.matchSeq === null) return { kind: 'probe' };
  // Behind, or holding a suffix the primary lacks (it must be truncated away).
  if (s.matchSeq < s.primaryLastSeq || s.replicaLastSeq > s.matchSeq) return { kind: 'replicate' };
  // A read waits for proof that the primary still leads: an empty batch now, not at the next heartbeat.
  // `<=`: a request stamped in the read's own millisecond may predate it (the read needs a later one).
  if (s.confirmSinceMs != null && (s.confirmedAtMs ?? 0) <= s.confirmSinceMs) return { kind: 'heartbeat' };
  const due = s.commitSeq > s.sentCommitSeq ? s.lastSentMs + s.commitPushMs : s.lastSentMs + s.heartbeatMs;
  return s.nowMs >= due ? { kind: 'heartbeat' } : { kind: 'wait', untilMs: due };
}

export interface BatchSource {
  /** Entries available in the LogBuffer from matchSeq + 1 on (contiguous). */
  buffered: number;
  /** Lowest seq the buffer holds (null = empty). */
  bufferLowestSeq: number | null;
  nextSeq: number;
  /** Writes sent to the primary whose answers have not arrived. */
  writesInFlight: number;
  /** Since when the stream has been waiting on this hole (null = not yet). */
  holeSinceMs: number | null;
  nowMs: number;
  holeWaitMs: number;
}

/**
 * Where the next batch comes from. A hole ahead of the buffer is usually a
 * write whose answer is still on its way, so we wait briefly for it instead of
 * reading the WAL; entries already evicted come from the WAL at once.
 */
export function batchSource(s: BatchSource): { kind: 'buffer' } | { kind: 'wal' } | { kind: 'wait'; untilMs: number } {
  if (s.buffered > 0) return { kind: 'buffer' };
  if (s.bufferLowestSeq !== null && s.nextSeq < s.bufferLowestSeq) return { kind: 'wal' };
  if (s.writesInFlight === 0) return { kind: 'wal' };
  const since = s.holeSinceMs ?? s.nowMs;
  if (s.nowMs - since >= s.holeWaitMs) return { kind: 'wal' };
  return { kind: 'wait', untilMs: since + s.holeWaitMs };
}

/**
 * The replica must drop entries after the batch whose term is below ours when
 * nothing of the primary's log can follow with such a term: either the batch
 * ends with an entry of the current term (the primary appends only in its own
 * term after that), or it ends at the primary's lastSeq as just read.
 */
export function shouldTruncate(endSeq: number, endTerm: number, viewTerm: number, primaryLastSeqRead: number | null): boolean {
  return endTerm === viewTerm || (primaryLastSeqRead !== null && endSeq >= primaryLastSeqRead);
}

export interface ProbeWindow {
  /** Compare entries in (lo, hi]. */
  lo: number;
  hi: number;
}

export const MAX_WAL_PAGE = 10_000;

/** First window: the last `width` entries of the replica, never below its base. */
export function firstProbeWindow(replicaLastSeq: number, replicaBaseSeq: number, width: number): ProbeWindow {
  return { lo: Math.max(replicaBaseSeq, replicaLastSeq - width), hi: replicaLastSeq };
}

/** The next window further back, wider each time, capped at one WAL page. */
export function widenProbeWindow(w: ProbeWindow, replicaBaseSeq: number): ProbeWindow {
  const width = Math.min(Math.max(1, (w.hi - w.lo) * 4), MAX_WAL_PAGE);
  return { lo: Math.max(replicaBaseSeq, w.lo - width), hi: w.lo };
}

export type ProbeOutcome = { kind: 'match'; seq: number } | { kind: 'widen' } | { kind: 'snapshot' };

/**
 * Reads one probe round. Below its base a replica's log was trimmed or came
 * from a snapshot, which only happens to committed entries, so the base itself
 * matches — provided the primary's log still reaches back to it.
 */
export function probeOutcome(o: {
  window: ProbeWindow;
  replicaTail: ReadonlyArray<SeqTerm>;
  primaryTail: ReadonlyArray<SeqTerm>;
  replicaBaseSeq: number;
  primaryLastSeq: number;
  primaryOldestSeq: number;
}): ProbeOutcome {
  const m = findMatchSeq(o.replicaTail, o.primaryTail);
  if (m !== null) return { kind: 'match', seq: m };
  if (o.window.lo > o.replicaBaseSeq) return { kind: 'widen' };
  const base = o.replicaBaseSeq;
  if (base === 0) return { kind: 'match', seq: 0 };
  if (base > o.primaryLastSeq || o.primaryOldestSeq > base + 1) return { kind: 'snapshot' };
  return { kind: 'match', seq: base };
}

/** Retry delay after a failure: doubling from 25 ms, capped (at the health interval). */
export function nextBackoffMs(previousMs: number, capMs: number): number {
  return previousMs <= 0 ? Math.min(25, capMs) : Math.min(previousMs * 2, capMs);
}
