import type { Role } from '../core/protocol.ts';

// Promotion (shard/DESIGN.md "Rules" → Promote): a node becomes primary only
// at its own term and only with its own vote for that term. A router asks
// after counting a majority of grants, and the vote rule makes sure a
// majority voted for at most one node per term, so one term never has two
// primaries. A repeated promote (two routers, a lost answer) changes nothing.

export interface PromoterState {
  self: string;
  term: number;
  votedFor: string | null;
  role: Role;
}

export type PromoteDecision =
  /** Become primary and append a `noop` of this term (older entries commit with it). */
  | { kind: 'promote' }
  /** Already primary of this term: answer ok, append nothing. */
  | { kind: 'already' }
  | { kind: 'refuse'; reason: string };

export function decidePromote(state: PromoterState, reqTerm: number): PromoteDecision {
  if (state.role === 'primary' && state.term === reqTerm) return { kind: 'already' };
  if (reqTerm !== state.term || state.votedFor !== state.self) {
    return { kind: 'refuse', reason: `cannot promote for term ${reqTerm}: node is at term ${state.term}, voted for ${state.votedFor ?? 'nobody'}` };
  }
  return { kind: 'promote' };
}
