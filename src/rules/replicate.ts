import type { GapDetails, LogEntry, ReplicateRequest, Role, SeqTerm } from '../core/protocol.ts';

// Accepting a replicate batch (shard/DESIGN.md "Rules" → Replicate), as a pure
// plan over the node's state and the tail of its log. The store carries the
// plan out in one transaction: adopt, roll back, append, raise commitSeq.

export interface ReplicaState {
  self: string;
  term: number;
  votedFor: string | null;
  role: Role;
  primaryId: string | null;
  lastSeq: number;
  lastTerm: number;
  baseSeq: number;
  baseTerm: number;
  commitSeq: number;
  needsSnapshot: boolean;
}

/** Term, vote, role and primary the node takes on from the sender. */
export interface Adoption {
  term: number;
  votedFor: string | null;
  role: 'replica';
  primaryId: string;
}

export type ReplicatePlan =
  | { kind: 'invalid'; reason: string }
  | { kind: 'stale_term'; term: number; primaryId: string | null }
  /**
   * `diverged`: a local entry has the batch's (seq, term) but another rev —
   * one of the two was not written by that term's primary. The node cannot
   * tell which, so it persists needsSnapshot and is repaired from the primary.
   */
  | { kind: 'gap'; adopt: Adoption; details: GapDetails; diverged?: true }
  | {
    kind: 'apply';
    adopt: Adoption;
    /** Roll back every local entry with seq > rollbackAfter first (null: none). */
    rollbackAfter: number | null;
    /** req.entries from this index on are appended, in order. */
    appendFrom: number;
    /** Seq of the last entry of the batch (prevSeq when empty). */
    batchEnd: number;
    commitSeq: number;
  };

/** A local entry's position and rev (`''` for db and noop entries). */
export type TailEntry = SeqTerm & { rev: string };

/**
 * `tail` holds `(seq, term, rev)` of every local entry with seq >=
 * max(prevSeq, baseSeq + 1), in order — the only part of the log the
 * decision reads.
 */
export function decideReplicate(state: ReplicaState, tail: ReadonlyArray<TailEntry>, req: ReplicateRequest): ReplicatePlan {
  if (req.term < state.term) return { kind: 'stale_term', term: state.term, primaryId: state.primaryId };
  // Two primaries in one term cannot both be legitimate: refuse, never merge.
  if (req.term === state.term && state.role === 'primary') return { kind: 'stale_term', term: state.term, primaryId: state.self };
  const invalid = checkBatch(req);
  if (invalid) return { kind: 'invalid', reason: invalid };

  const adopt: Adoption = {
    term: req.term,
    votedFor: req.term > state.term ? null : state.votedFor,
    role: 'replica',
    primaryId: req.primaryId,
  };
  const gap = (mismatch: boolean): ReplicatePlan => ({
    kind: 'gap',
    adopt,
    details: { lastSeq: state.lastSeq, lastTerm: state.lastTerm, mismatch, ...(state.needsSnapshot ? { needsSnapshot: true } : {}) },
  });
  if (state.needsSnapshot) return gap(true);

  const termAt = new Map<number, number>();
  const revAt = new Map<number, string>();
  for (const e of tail) {
    termAt.set(e.seq, e.term);
    revAt.set(e.seq, e.rev);
  }
  termAt.set(state.baseSeq, state.baseTerm);
  const localTerm = (seq: number): number | undefined => termAt.get(seq);

  if (req.prevSeq > state.lastSeq) return gap(false);
  // Below baseSeq entries were trimmed, and trimming never passes commitSeq,
  // so whatever the sender has there matches.
  if (req.prevSeq >= state.baseSeq && localTerm(req.prevSeq) !== req.prevTerm) return gap(true);

  const batchEnd = req.prevSeq + req.entries.length;
  let rollbackAfter: number | null = null;
  let appendFrom = req.entries.length;
  for (let i = 0; i < req.entries.length; i++) {
    const e = req.entries[i]!;
    if (e.seq <= state.baseSeq) continue;
    if (e.seq > state.lastSeq) {
      appendFrom = i;
      break;
    }
    if (localTerm(e.seq) === e.term) {
      // A re-delivery only when it is the same entry: one term's primary
      // writes one entry per seq, so another rev here is a forged or buggy
      // entry (ours or the batch's). Skipping it would fork the shard for good.
      if (revAt.get(e.seq) === e.rev) continue;
      return {
        kind: 'gap', adopt, diverged: true,
        details: { lastSeq: state.lastSeq, lastTerm: state.lastTerm, mismatch: true, needsSnapshot: true },
      };
    }
    rollbackAfter = e.seq - 1;
    appendFrom = i;
    break;
  }

  if (rollbackAfter === null && req.truncate && state.lastSeq > batchEnd) {
    // A late duplicate of an old batch may carry `truncate` while later
    // entries of this term already arrived: those are the sender's, keep them.
    const staleTruncate = tail.some((e) => e.seq > batchEnd && e.term >= req.term);
    if (!staleTruncate) rollbackAfter = batchEnd;
  }
  if (rollbackAfter !== null) {
    const doomed = tail.filter((e) => e.seq > rollbackAfter!);
    for (const e of doomed) {
      // Only entries that never reached a quorum of this term's primary can go.
      if (e.term >= req.term) throw new Error(`invariant: would roll back seq ${e.seq} of term ${e.term} >= sender term ${req.term}`);
    }
  }
  // Only the batch is known to match the sender's log; a longer local tail may not.
  const known = Math.min(req.commitSeq, batchEnd);
  return { kind: 'apply', adopt, rollbackAfter, appendFrom, batchEnd, commitSeq: Math.max(state.commitSeq, known) };
}

function checkBatch(req: ReplicateRequest): string | null {
  let prevTerm = req.prevTerm;
  for (let i = 0; i < req.entries.length; i++) {
    const e: LogEntry = req.entries[i]!;
    if (e.seq !== req.prevSeq + 1 + i) return `entries[${i}].seq: expected ${req.prevSeq + 1 + i}, got ${e.seq}`;
    if (e.term < prevTerm) return `entries[${i}].term: ${e.term} is lower than the entry before it (${prevTerm})`;
    if (e.term > req.term) return `entries[${i}].term: ${e.term} is higher than the sender's term ${req.term}`;
    prevTerm = e.term;
  }
  return null;
}
