import type { NodeState } from '../../src/core/protocol.ts';
import { adoptHint, adoptState, type TermAndPrimary } from '../../src/rules/index.ts';

// What the router believes about one shard (router/DESIGN.md "Shard view").
// Everything here is rebuilt from the nodes' `state`, so the router keeps
// nothing on disk. The adoption rules are src/rules/view.ts.

export interface NodeSeen {
  state: NodeState | null;
  /** Last time the node answered (ms), null if never. */
  lastSeenMs: number | null;
  /** Last time we asked, whatever the outcome. */
  lastAskedMs: number | null;
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
