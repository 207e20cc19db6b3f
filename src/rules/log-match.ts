import type { SeqTerm } from '../core/protocol.ts';

// Log matching (Raft's log-matching property): if two logs hold an entry with
// the same (seq, term), they agree on every entry up to it. So the point from
// which a replica's log must be repaired is the highest seq where both tails
// carry the same term. Shared by the router (probing) and shard nodes.

/**
 * Highest seq present in both tails with the same term, or null when the
 * windows share no such entry (the caller widens the window or falls back to
 * the log bases). Tails need not be sorted or cover the same range.
 */
export function findMatchSeq(localTail: ReadonlyArray<SeqTerm>, remoteTail: ReadonlyArray<SeqTerm>): number | null {
  const remoteTerms = new Map<number, number>();
  for (const e of remoteTail) remoteTerms.set(e.seq, e.term);
  let best: number | null = null;
  for (const e of localTail) {
    if (remoteTerms.get(e.seq) === e.term && (best === null || e.seq > best)) best = e.seq;
  }
  return best;
}
