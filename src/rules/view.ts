import type { NodeState } from '../core/protocol.ts';

// How a router's view of a shard (term, primary) moves with what the nodes
// say (router/DESIGN.md "Shard view"): a higher term always wins, and the
// primary is only the node that itself reports `role: primary` at the view's
// term. Everything is rebuilt from the nodes' answers; the router keeps
// nothing on disk.

export interface TermAndPrimary {
  term: number;
  primaryId: string | null;
}

/**
 * The view after observing `state` from `nodeId` (null = no answer, which
 * changes nothing: silence is the health monitor's business, not proof).
 */
export function adoptState(view: TermAndPrimary, nodeId: string, state: NodeState | null, commitSeq = 0): TermAndPrimary {
  if (state === null) return view;
  // A fresh data dir not joined yet is never the primary, whatever role the config gave it.
  const primary = state.role === 'primary' && state.joined !== false;
  if (state.term > view.term) return { term: state.term, primaryId: primary ? nodeId : null };
  if (state.term === view.term) {
    if (primary) return view.primaryId === nodeId ? view : { term: view.term, primaryId: nodeId };
    if (view.primaryId === nodeId) return { term: view.term, primaryId: null };
    return view;
  }
  // Our primary at a lower term, without the committed log: a node's term
  // only goes down when its data dir was wiped. Kept, every write would fail
  // while its answered polls keep it "healthy", so no election would ever
  // replace it. (A lower term with the log is more likely an answer that
  // overtook our adoption of it: leave that to the next poll.)
  if (view.primaryId === nodeId && state.lastSeq < commitSeq) return { term: view.term, primaryId: null };
  return view;
}

/**
 * A hint from a node's 409 (`stale_term` / `not_primary` carry its term): a
 * higher term invalidates our primary until a state confirms the new one.
 */
export function adoptHint(view: TermAndPrimary, hintTerm: number | undefined): TermAndPrimary {
  if (typeof hintTerm !== 'number' || hintTerm <= view.term) return view;
  return { term: hintTerm, primaryId: null };
}
