// Bounds on the integers of the replication protocol (terms, seqs, commit
// points), so that no request — even one holding the cluster secret — can
// push a node to a value the next step cannot exceed or carry:
//  - every bound is far below 2^53, so `term + 1` and `seq + 1` stay exact;
//  - every bound fits the 15-digit header pattern (UINT_PATTERN), so the
//    router can always stamp what a node accepted;
//  - a node moves its term up by at most MAX_TERM_STEP per request, so one
//    bad vote or replicate cannot jump a shard to the end of the range (a
//    legitimate term grows by one per election; 2^32 elections at one a
//    second take 136 years).
// Larger values are a 400 `bad_request`.

/** Highest term a node accepts (2^48, 15 digits). */
export const MAX_TERM = 2 ** 48;
/** Highest seq / commit point a node accepts (2^48, 15 digits). */
export const MAX_SEQ = 2 ** 48;
/** Largest jump of a node's term in one request. */
export const MAX_TERM_STEP = 2 ** 32;

/** A refusal reason when `requested` moves `current` up by more than MAX_TERM_STEP, else null. */
export function termStepError(current: number, requested: number): string | null {
  if (requested - current <= MAX_TERM_STEP) return null;
  return `term ${requested} is more than ${MAX_TERM_STEP} above this node's term ${current}`;
}
