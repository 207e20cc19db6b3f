import type { VoteRequest } from '../core/protocol.ts';
import { logAtLeast } from './log-order.ts';

// Vote granting (shard/DESIGN.md "Rules", DESIGN §5.4). At most one vote per
// term, and only for a candidate whose log is at least as complete as ours:
// that is what makes every acknowledged write survive an election. Two
// refusals leave the voter exactly as it was — no term taken, nobody deposed:
//  - a fresh data dir not yet joined (it may have voted before it was wiped);
//  - leader stickiness (Raft's pre-vote / check-quorum, §9.6 of the thesis):
//    a voter that heard of a live primary less than `stickyMs` ago refuses,
//    so a router that cannot reach a primary others still reach cannot
//    depose it. A vote is `force`d — stickiness waived — by a planned
//    switchover, and by a router that heard the voters' primary itself say
//    it is no longer primary (src/rules/election.ts). A primary gets no such
//    refusal: a router that can reach it to ask does not think it dead, and
//    one restarted from an old term must be deposable.

export interface VoterState {
  term: number;
  votedFor: string | null;
  lastSeq: number;
  lastTerm: number;
  /** false: a fresh data dir no router has joined yet (absent = joined). */
  joined?: boolean;
  /** How long ago the voter last heard that its term's primary was alive (null/absent: not since it started). */
  primaryHeardMsAgo?: number | null;
  /** Leader stickiness window (failover timeout less one health interval); 0/absent: none. */
  stickyMs?: number;
}

export interface VoteDecision {
  granted: boolean;
  /** The voter's term and vote after this request (persist before answering). */
  term: number;
  votedFor: string | null;
  /** The voter saw a higher term: it must step down to replica. */
  stepDown: boolean;
  reason?: string;
}

export function decideVote(state: VoterState, req: VoteRequest): VoteDecision {
  const refuseAsIs = (reason: string): VoteDecision => ({ granted: false, term: state.term, votedFor: state.votedFor, stepDown: false, reason });
  if (state.joined === false) return refuseAsIs('not joined: a fresh data dir votes only once a router has shown it the current term');
  if (req.term < state.term) return refuseAsIs(`stale term ${req.term} < ${state.term}`);
  const ago = state.primaryHeardMsAgo;
  if (!req.force && req.term > state.term && ago !== null && ago !== undefined && state.stickyMs !== undefined && ago < state.stickyMs) {
    return refuseAsIs(`the primary of term ${state.term} was alive ${Math.round(ago)} ms ago`);
  }
  const stepDown = req.term > state.term;
  const votedFor = stepDown ? null : state.votedFor;
  if (votedFor !== null && votedFor !== req.candidateId) {
    return { granted: false, term: req.term, votedFor, stepDown, reason: `already voted for ${votedFor} in term ${req.term}` };
  }
  if (!logAtLeast(req, state)) {
    return {
      granted: false, term: req.term, votedFor, stepDown,
      reason: `candidate log (${req.lastTerm}, ${req.lastSeq}) is behind (${state.lastTerm}, ${state.lastSeq})`,
    };
  }
  return { granted: true, term: req.term, votedFor: req.candidateId, stepDown };
}
