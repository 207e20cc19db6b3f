import { JOINED_VOTE, type NodeState, type Role } from '../core/protocol.ts';
import { majority } from './quorum.ts';

// Joining a fresh data dir to its shard (shard/DESIGN.md "Incarnations").
// A node whose data dir is new cannot tell a brand-new cluster from a wipe:
// wiped, it has forgotten its term and the votes it cast, and voting again or
// counting toward a quorum in a term it already voted in could let two
// primaries win one term, or let a write be acknowledged on a copy that
// forgot it. So a fresh node does neither until a router has shown it the
// shard's current term, read from a majority of the *other* nodes: every
// majority that ever voted includes one of them (two majorities of N share a
// node; leaving the joiner out still leaves one), so the term learned is at
// least every term the joiner could have voted in. It then refuses to vote in
// that term (it may have voted there before), and votes normally above it.

export type JoinPlan =
  | { kind: 'wait'; reason: string }
  | { kind: 'join'; term: number; role: Role; primaryId: string | null };

export interface JoinInput {
  /** The fresh node. */
  nodeId: string;
  /** The shard's node ids in config order (the first is the initial primary of a new shard). */
  nodes: readonly string[];
  /** States just read from the nodes (after the joiner was seen fresh); null or absent = no answer. */
  states: Readonly<Record<string, NodeState | null | undefined>>;
  /** The highest term the planning router has seen for the shard. */
  viewTerm: number;
}

export function planJoin(input: JoinInput): JoinPlan {
  const { nodeId, nodes } = input;
  const others = nodes.filter((id) => id !== nodeId);
  const answered = others.map((id) => input.states[id]).filter((s): s is NodeState => s !== null && s !== undefined);
  const needed = majority(nodes.length);
  if (answered.length < Math.min(needed, others.length)) {
    return { kind: 'wait', reason: `${answered.length} of the other ${others.length} nodes answered, ${needed} needed to learn the current term` };
  }
  const term = answered.reduce((t, s) => Math.max(t, s.term), Math.max(1, input.viewTerm));
  const primary = answered.find((s) => s.role === 'primary' && s.term === term && s.joined !== false);
  // A brand-new shard: nothing was ever written or voted anywhere a majority can see, so the
  // first node may take the role the config gives it. Anything else and it joins as a replica.
  // (No election ever runs in term 1, so the only vote there is a join's placeholder; an
  // unjoined node's role is only the config's default.)
  const untouched = term === 1 && !primary
    && answered.every((s) => s.lastSeq === 0 && (s.votedFor === null || s.votedFor === JOINED_VOTE) && (s.role === 'replica' || s.joined === false));
  if (nodeId === nodes[0] && untouched) return { kind: 'join', term: 1, role: 'primary', primaryId: nodeId };
  return { kind: 'join', term, role: 'replica', primaryId: primary?.nodeId ?? (untouched ? nodes[0]! : null) };
}
