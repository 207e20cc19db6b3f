import type { LogEntry, NodeState, PromoteResponse, Role, VoteRequest, VoteResponse } from '../../src/core/protocol.ts';
import { decidePromote, decideReplicate, decideVote, type ReplicaState } from '../../src/rules/index.ts';

// An in-memory shard node for the failover property and simulation tests. It
// runs the real node rules of src/rules (vote, promote, replicate) over a log
// of bare {seq, term} entries: the election only ever looks at (seq, term),
// so documents would add nothing but noise. Rule breaches that the rules call
// invariant violations throw.

export interface Entry { seq: number; term: number }

export interface ModelNode {
  id: string;
  term: number;
  votedFor: string | null;
  role: Role;
  primaryId: string | null;
  log: Entry[];
}

export function newNode(id: string, primaryId: string): ModelNode {
  return { id, term: 1, votedFor: null, role: id === primaryId ? 'primary' : 'replica', primaryId, log: [] };
}

export function lastOf(n: ModelNode): { lastSeq: number; lastTerm: number } {
  const e = n.log.at(-1);
  return { lastSeq: e?.seq ?? 0, lastTerm: e?.term ?? 0 };
}

export function stateOf(n: ModelNode): NodeState {
  const { lastSeq, lastTerm } = lastOf(n);
  return {
    nodeId: n.id, shardId: 0, role: n.role, term: n.term, votedFor: n.votedFor, primaryId: n.primaryId,
    lastSeq, lastTerm, commitSeq: 0, oldestSeq: 1, ready: true, rollbackCount: 0,
  };
}

export function holds(n: ModelNode, e: Entry): boolean {
  return n.log[e.seq - 1]?.term === e.term;
}

/** The node rule `decideVote` (src/rules/vote.ts), carried out on a model node. */
export function voteRule(n: ModelNode, req: VoteRequest): VoteResponse {
  const d = decideVote({ term: n.term, votedFor: n.votedFor, ...lastOf(n) }, req);
  if (d.stepDown) {
    n.term = d.term;
    n.role = 'replica';
    n.primaryId = null;
  }
  n.votedFor = d.votedFor;
  return { granted: d.granted, term: d.term, ...(d.reason ? { reason: d.reason } : {}) };
}

/** The node rule `decidePromote` (src/rules/promote.ts): a new primary appends a noop of its term. */
export function promoteRule(n: ModelNode, term: number): PromoteResponse | { ok: false; term: number } {
  const d = decidePromote({ self: n.id, term: n.term, votedFor: n.votedFor, role: n.role }, term);
  if (d.kind === 'refuse') return { ok: false, term: n.term };
  if (d.kind === 'promote') {
    n.role = 'primary';
    n.primaryId = n.id;
    n.log.push({ seq: lastOf(n).lastSeq + 1, term });
  }
  return { ok: true, role: 'primary', term, lastSeq: lastOf(n).lastSeq };
}

/** A write on the primary: accepted only by a primary whose term matches the stamp. */
export function appendRule(n: ModelNode, stampedTerm: number): Entry | null {
  if (n.role !== 'primary' || n.term !== stampedTerm) return null;
  const e = { seq: lastOf(n).lastSeq + 1, term: n.term };
  n.log.push(e);
  return e;
}

export interface ModelReplicate { term: number; primaryId: string; prevSeq: number; prevTerm: number; truncate: boolean; entries: Entry[] }
export type ModelReplicateResult = { ok: true; lastSeq: number } | { ok: false; error: 'stale_term' | 'gap'; term: number };

/**
 * The node rule `decideReplicate` (src/rules/replicate.ts), carried out on a
 * model node. The world's own invariant (one primary per term) is asserted
 * here too: the rule refuses such a batch, but in the model it must never
 * be sent.
 */
export function replicateRule(n: ModelNode, req: ModelReplicate): ModelReplicateResult {
  if (req.term === n.term && n.role === 'primary' && n.id !== req.primaryId) {
    throw new Error(`invariant: two primaries in term ${req.term}: ${n.id} and ${req.primaryId}`);
  }
  const last = lastOf(n);
  const state: ReplicaState = {
    self: n.id, term: n.term, votedFor: n.votedFor, role: n.role, primaryId: n.primaryId, lastSeq: last.lastSeq, lastTerm: last.lastTerm,
    baseSeq: 0, baseTerm: 0, commitSeq: 0, needsSnapshot: false,
  };
  const entries: LogEntry[] = req.entries.map((e) => ({ ...e, op: 'noop', db: '', id: '', rev: '', doc: null, ts: 0 }));
  const tail = n.log.slice(Math.max(0, req.prevSeq - 1)).map((e) => ({ ...e, rev: '' }));
  const plan = decideReplicate(state, tail, { ...req, commitSeq: 0, entries });
  if (plan.kind === 'invalid') throw new Error(`model sent an invalid batch: ${plan.reason}`);
  if (plan.kind === 'stale_term') return { ok: false, error: 'stale_term', term: plan.term };
  n.term = plan.adopt.term;
  n.votedFor = plan.adopt.votedFor;
  n.role = plan.adopt.role;
  n.primaryId = plan.adopt.primaryId;
  if (plan.kind === 'gap') return { ok: false, error: 'gap', term: n.term };
  if (plan.rollbackAfter !== null) n.log.splice(plan.rollbackAfter);
  for (const e of req.entries.slice(plan.appendFrom)) n.log.push({ seq: e.seq, term: e.term });
  return { ok: true, lastSeq: lastOf(n).lastSeq };
}

/** The request a primary sends to bring a node to its log prefix of `upTo` entries. */
export function replicateRequest(primary: ModelNode, prevSeq: number, upTo: number): ModelReplicate {
  return {
    term: primary.term,
    primaryId: primary.id,
    prevSeq,
    prevTerm: prevSeq > 0 ? primary.log[prevSeq - 1]!.term : 0,
    truncate: upTo === primary.log.length,
    entries: primary.log.slice(prevSeq, upTo).map((e) => ({ ...e })),
  };
}

/**
 * Bookkeeping of acknowledged writes, counted the way the router does: an
 * entry of term T is acknowledged once a majority accepted it from the
 * primary of T; entries before it in that primary's log commit with it (an
 * older-term entry is never acknowledged on its own count: Raft's figure 8).
 */
export class AckTracker {
  readonly acked = new Map<string, Entry>();
  private readonly accepted = new Map<string, Set<string>>();
  constructor(private readonly majority: number) {}

  /** `node` holds `primary`'s log prefix up to `upTo` after a replicate (or write) of `primary`. */
  record(primary: ModelNode, node: ModelNode, upTo: number): void {
    for (let i = 0; i < upTo; i += 1) {
      const e = primary.log[i]!;
      if (e.term !== primary.term || !holds(node, e)) continue;
      const key = `${e.seq}:${e.term}`;
      const set = this.accepted.get(key) ?? new Set<string>();
      set.add(node.id);
      this.accepted.set(key, set);
      if (set.size >= this.majority) {
        for (const c of primary.log.slice(0, e.seq)) this.acked.set(`${c.seq}:${c.term}`, c);
      }
    }
  }

  missingFrom(n: ModelNode): Entry[] {
    return [...this.acked.values()].filter((e) => !holds(n, e));
  }
}
