// Which of two logs is more up to date (Raft §5.4.1): the one whose last
// entry has the higher term, or, with equal terms, the longer one. The vote
// rule, the election planner and the switchover planner all rank logs with
// this one function, so the candidate a router picks is always one the
// voters accept.

export interface LogPosition {
  lastTerm: number;
  lastSeq: number;
}

/** Negative when `a` is behind `b`, 0 when level, positive when ahead. */
export function compareLogs(a: LogPosition, b: LogPosition): number {
  return a.lastTerm !== b.lastTerm ? a.lastTerm - b.lastTerm : a.lastSeq - b.lastSeq;
}

/** `a` holds at least everything `b` may hold: what a voter requires of a candidate. */
export function logAtLeast(a: LogPosition, b: LogPosition): boolean {
  return compareLogs(a, b) >= 0;
}
