import type { NodeState } from '../core/protocol.ts';
import { compareLogs } from './log-order.ts';
import { majority } from './quorum.ts';

// Election planning (DESIGN §5.4, router/FAILOVER.md): candidate and term. Pure
// over the states the coordinator gathered; the safety argument lives in
// FAILOVER.md, and the vote rule that makes it hold lives on the nodes
// (shard/DESIGN.md "Rules").

export interface ElectionInput {
  /** The shard's node ids in config order (ties go to the earlier one). */
  nodes: readonly string[];
  /** Each node's answer to `state`; null (or absent) = no answer. */
  states: Readonly<Record<string, NodeState | null | undefined>>;
  viewTerm: number;
  viewPrimaryId: string | null;
  /** Manual failover to this node. */
  target?: string;
  /**
   * Manual failover: a live primary at the view's term is no reason to stop,
   * and without `target` the current primary is not a candidate.
   */
  manual?: boolean;
}

export type ElectionPlan =
  | { kind: 'adopt'; term: number; primaryId: string }
  | { kind: 'no_quorum'; answered: number; needed: number }
  /**
   * `force`: the votes waive the voters' leader stickiness — a manual
   * switchover, or the voters' primary answered and is not primary any more
   * (it stepped down, or its data dir was wiped): stickiness protects a
   * primary that is silent to one router, not one that says it is gone.
   */
  | { kind: 'elect'; term: number; candidateId: string; lastTerm: number; lastSeq: number; voters: string[]; force: boolean }
  | { kind: 'target_behind'; targetId: string; aheadId: string }
  | { kind: 'target_unreachable'; targetId: string };

export function planElection(input: ElectionInput): ElectionPlan {
  const { nodes, viewTerm, viewPrimaryId, target } = input;
  if (target !== undefined && !nodes.includes(target)) {
    // The endpoint answers 404 before it gets here; reaching this is a bug.
    throw new Error(`planElection: target ${target} is not a node of this shard`);
  }
  const answered: { id: string; state: NodeState }[] = [];
  for (const id of nodes) {
    const state = input.states[id];
    if (state) answered.push({ id, state });
  }
  const maxTerm = answered.reduce((t, a) => Math.max(t, a.state.term), viewTerm);

  // A node that calls itself primary at the highest term anyone reports is the
  // primary (one per term, and a vote at a higher term would have deposed
  // it). If it is newer than our view, another router elected it; otherwise
  // it is alive after all. Either way: adopt, don't elect. Only a manual
  // switchover replaces a live primary of the view's term. A primary below
  // maxTerm is deposed (it just has not heard yet): ignore it.
  const primary = answered.find((a) => a.state.role === 'primary' && a.state.term === maxTerm && a.state.joined !== false);
  if (primary && (maxTerm > viewTerm || !input.manual)) {
    return { kind: 'adopt', term: maxTerm, primaryId: primary.id };
  }

  const needed = majority(nodes.length);
  if (answered.length < needed) return { kind: 'no_quorum', answered: answered.length, needed };

  const best = (pool: typeof answered) =>
    pool.reduce<(typeof answered)[number] | undefined>((b, a) => (b === undefined || compareLogs(a.state, b.state) > 0 ? a : b), undefined);
  // A fresh data dir not joined yet is no candidate: it cannot vote, not even for itself.
  const eligible = answered.filter((a) => a.state.joined !== false);
  const mostComplete = best(eligible);
  if (mostComplete === undefined) return { kind: 'no_quorum', answered: eligible.length, needed };

  let candidate = mostComplete;
  if (target !== undefined || input.manual) {
    const chosen = target !== undefined
      ? eligible.find((a) => a.id === target)
      : best(eligible.filter((a) => a.id !== viewPrimaryId));
    if (chosen === undefined) return { kind: 'target_unreachable', targetId: target ?? '' };
    // The target must hold everything any answering node holds, or electing
    // it could drop acknowledged writes.
    if (compareLogs(chosen.state, mostComplete.state) < 0) {
      return { kind: 'target_behind', targetId: chosen.id, aheadId: mostComplete.id };
    }
    candidate = chosen;
  }
  // Reaching here, no answering node is primary at maxTerm: if the voters'
  // primary answered, it said so itself.
  const followed = new Set(answered.filter((a) => a.state.term === maxTerm && a.state.primaryId !== null).map((a) => a.state.primaryId!));
  const primaryGone = answered.some((a) => followed.has(a.id));
  return {
    kind: 'elect',
    force: input.manual === true || primaryGone,
    term: maxTerm + 1,
    candidateId: candidate.id,
    lastTerm: candidate.state.lastTerm,
    lastSeq: candidate.state.lastSeq,
    // Everyone is asked, the candidate included: promote needs its own vote,
    // and a node that did not answer `state` may still answer `vote`.
    voters: [...nodes],
  };
}
