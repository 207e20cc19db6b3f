import type { VoteResponse } from '../core/protocol.ts';

// Quorum maths in one module (STYLE §3, as etcd raft's quorum/): what a
// majority is, when a write is durable on a quorum (commit counting, tested
// against a naive twin), and when an election has a majority of votes.

/** Smallest number of nodes that is more than half of `n`. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The highest seq held by at least `writeQuorum` copies: the W-th highest of
 * the primary's lastSeq and the replicas' match points (null = unknown, holds
 * nothing provable). 0 when fewer than W copies are known.
 */
export function quorumSeq(primaryLastSeq: number, replicaMatchSeqs: ReadonlyArray<number | null>, writeQuorum: number): number {
  if (writeQuorum <= 1) return primaryLastSeq;
  const copies: number[] = [primaryLastSeq];
  for (const m of replicaMatchSeqs) if (m !== null) copies.push(Math.min(m, primaryLastSeq));
  if (copies.length < writeQuorum) return 0;
  copies.sort((a, b) => b - a);
  return copies[writeQuorum - 1]!;
}

/** How many copies (primary included) hold `seq`. */
export function acksFor(seq: number, primaryLastSeq: number, replicaMatchSeqs: ReadonlyArray<number | null>): number {
  let n = primaryLastSeq >= seq ? 1 : 0;
  for (const m of replicaMatchSeqs) if (m !== null && m >= seq) n++;
  return n;
}

/**
 * Raft's current-term rule: the commit point only advances to a seq whose
 * entry was written in the view's term; older-term entries commit along with
 * it. Terms never decrease along a log and a primary appends only in its own
 * term, so once any seq `s` is known to hold a current-term entry, every seq
 * >= s of the primary's log does too. `currentTermFrom` is such an `s` (the
 * lowest known), or null when none is known yet — then nothing advances.
 */
export function advanceCommit(commitSeq: number, candidate: number, currentTermFrom: number | null): number {
  if (candidate <= commitSeq || currentTermFrom === null || candidate < currentTermFrom) return commitSeq;
  return candidate;
}

export interface Tally {
  granted: number;
  needed: number;
  majority: boolean;
  /** Highest term in any answer (at least `term`). */
  highestTerm: number;
  /** Some node is at a higher term: another election won or is running. Abort. */
  superseded: boolean;
}

/**
 * Counts the grants for `term`. Answers from unknown nodes and grants for
 * another term do not count (a confused or replayed answer must not make a
 * majority).
 */
export function tallyVotes(responses: Readonly<Record<string, VoteResponse | null | undefined>>, nodes: readonly string[], term: number): Tally {
  let granted = 0;
  let highestTerm = term;
  for (const id of nodes) {
    const r = responses[id];
    if (!r) continue;
    if (r.granted && r.term === term) granted += 1;
    highestTerm = Math.max(highestTerm, r.term);
  }
  const needed = majority(nodes.length);
  return { granted, needed, majority: granted >= needed && highestTerm === term, highestTerm, superseded: highestTerm > term };
}
