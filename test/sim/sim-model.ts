import type { NodeState, PromoteResponse, Role, VoteRequest, VoteResponse } from '../../src/core/protocol.ts';

// An in-memory shard node for the failover property and simulation tests. It
// applies the node rules of shard/DESIGN.md "Rules" (vote, promote,
// replicate) to a log of bare {seq, term} entries: the election only ever
// looks at (seq, term), so documents would add nothing but noise. Rule
// breaches that shard/DESIGN.md calls invariant violations throw.

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

function adoptTerm(n: ModelNode, term: number): void {
  if (term > n.term) {
    n.term = term;
    n.votedFor = null;
    n.role = 'replica';
    n.primaryId = null;
  }
}

/** shard/DESIGN.md `decideVote`. */
export function voteRule(n: ModelNode, req: VoteRequest): VoteResponse {
  if (req.term < n.term) return { granted: false, term: n.term, reason: 'stale_term' };
  adoptTerm(n, req.term);
  const mine = lastOf(n);
  const upToDate = req.lastTerm > mine.lastTerm || (req.lastTerm === mine.lastTerm && req.lastSeq >= mine.lastSeq);
  if ((n.votedFor === null || n.votedFor === req.candidateId) && upToDate) {
    n.votedFor = req.candidateId;
    return { granted: true, term: n.term };
  }
  return { granted: false, term: n.term, reason: upToDate ? 'already_voted' : 'log_behind' };
}

/** Promote: only at the node's term with its own vote; appends a noop of the new term. */
export function promoteRule(n: ModelNode, term: number): PromoteResponse | { ok: false; term: number } {
  if (term !== n.term || n.votedFor !== n.id) return { ok: false, term: n.term };
  if (n.role !== 'primary') {
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

/** shard/DESIGN.md `decideReplicate`. */
export function replicateRule(n: ModelNode, req: ModelReplicate): ModelReplicateResult {
  if (req.term < n.term) return { ok: false, error: 'stale_term', term: n.term };
  if (req.term === n.term && n.role === 'primary' && n.id !== req.primaryId) {
    throw new Error(`invariant: two primaries in term ${req.term}: ${n.id} and ${req.primaryId}`);
  }
  adoptTerm(n, req.term);
  if (n.id !== req.primaryId) {
    n.role = 'replica';
    n.primaryId = req.primaryId;
  }
  if (req.prevSeq > lastOf(n).lastSeq) return { ok: false, error: 'gap', term: n.term };
  if (req.prevSeq > 0 && n.log[req.prevSeq - 1]!.term !== req.prevTerm) return { ok: false, error: 'gap', term: n.term };
  const rollBack = (fromSeq: number) => {
    const dropped = n.log.splice(fromSeq - 1);
    if (dropped.some((d) => d.term >= req.term)) throw new Error(`invariant: ${n.id} rolled back an entry of term >= ${req.term}`);
  };
  for (const e of req.entries) {
    const mine = n.log[e.seq - 1];
    if (mine?.term === e.term) continue;
    if (mine) rollBack(e.seq);
    n.log.push({ ...e });
  }
  if (req.truncate) {
    const end = req.entries.at(-1)?.seq ?? req.prevSeq;
    const after = n.log.slice(end);
    if (after.every((a) => a.term < req.term)) n.log.splice(end);
  }
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

/** Small deterministic PRNG (mulberry32) for seeded schedules. */
export function rng(seed: number): { next(): number; int(n: number): number; chance(p: number): boolean; pick<T>(xs: readonly T[]): T } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
  };
}
