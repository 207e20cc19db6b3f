import type { NodeState } from '../../src/core/protocol.ts';

// What the router believes about one shard (router/DESIGN.md "Shard view").
// Everything here is rebuilt from the nodes' `state`, so the router keeps
// nothing on disk. The adoption rules are pure functions so they are tested
// without a network: a higher term always wins, and the primary is only the
// node that itself reports `role: primary` at the view's term.

export interface NodeSeen {
  state: NodeState | null;
  /** Last time the node answered (ms), null if never. */
  lastSeenMs: number | null;
  /** Last time we asked, whatever the outcome. */
  lastAskedMs: number | null;
}

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
  if (state.term > view.term) return { term: state.term, primaryId: state.role === 'primary' ? nodeId : null };
  if (state.term === view.term) {
    if (state.role === 'primary') return view.primaryId === nodeId ? view : { term: view.term, primaryId: nodeId };
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

export class ShardView {
  readonly shardId: number;
  readonly nodeIds: readonly string[];
  term = 0;
  primaryId: string | null = null;
  /** Highest seq this router knows is quorum-durable. Never decreases. */
  commitSeq = 0;
  readonly nodes = new Map<string, NodeSeen>();

  constructor(shardId: number, nodeIds: readonly string[]) {
    this.shardId = shardId;
    this.nodeIds = nodeIds;
    for (const id of nodeIds) this.nodes.set(id, { state: null, lastSeenMs: null, lastAskedMs: null });
  }

  /** Records an observation; returns true when the term or the primary changed. */
  observe(nodeId: string, state: NodeState | null, nowMs: number): boolean {
    const seen = this.nodes.get(nodeId);
    if (!seen) return false;
    seen.lastAskedMs = nowMs;
    if (state !== null) {
      seen.state = state;
      seen.lastSeenMs = nowMs;
      // A node's commitSeq was set by some router from a quorum count, so it is a safe floor.
      if (state.commitSeq > this.commitSeq) this.commitSeq = state.commitSeq;
    }
    return this.#apply(adoptState(this, nodeId, state, this.commitSeq));
  }

  hint(term: number | undefined): boolean {
    return this.#apply(adoptHint(this, term));
  }

  /** Adopts a result the coordinator established (election won or adopted). */
  adopt(term: number, primaryId: string): boolean {
    if (term < this.term) return false;
    return this.#apply({ term, primaryId });
  }

  /** Nodes that answered within `withinMs` of `nowMs`. */
  reachable(nowMs: number, withinMs: number): string[] {
    return this.nodeIds.filter((id) => {
      const seen = this.nodes.get(id)!;
      return seen.lastSeenMs !== null && seen.lastAskedMs !== null && seen.lastSeenMs === seen.lastAskedMs && nowMs - seen.lastSeenMs <= withinMs;
    });
  }

  #apply(next: TermAndPrimary): boolean {
    if (next.term === this.term && next.primaryId === this.primaryId) return false;
    this.term = next.term;
    this.primaryId = next.primaryId;
    return true;
  }
}
