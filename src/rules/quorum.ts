// Commit counting (router/DESIGN.md "Commit", STYLE §3): the one place that
// decides when a write is durable on a quorum. Tested against a naive twin.

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
