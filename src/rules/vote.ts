import type { VoteRequest } from '../core/protocol.ts';
import { logAtLeast } from './log-order.ts';

// Vote granting (shard/DESIGN.md "Rules", DESIGN §5.4). At most one vote per
// term, and only for a candidate whose log is at least as complete as ours:
// that is what makes every acknowledged write survive an election.

export interface VoterState {
  term: number;
  votedFor: string | null;
  lastSeq: number;
  lastTerm: number;
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
  if (req.term < state.term) {
    return { granted: false, term: state.term, votedFor: state.votedFor, stepDown: false, reason: `stale term ${req.term} < ${state.term}` };
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
