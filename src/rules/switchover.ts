import type { NodeState } from '../core/protocol.ts';
import { compareLogs } from './log-order.ts';

// A planned switchover (router/FAILOVER.md "Manual failover"): when the
// target may be elected without losing a write.

export type SwitchoverPlan =
  | { kind: 'ready'; targetId: string }
  | { kind: 'wait'; targetId: string; behind: number }
  | { kind: 'refuse'; reason: 'target_is_primary' | 'target_unreachable' | 'no_replica'; targetId?: string };

/**
 * Manual failover (POST /v1/_cluster/shards/{id}/failover). With writes to
 * the shard paused, the target must first hold everything the primary holds
 * (same lastTerm and lastSeq); then an election with that target cannot lose
 * a write and wins at once. Without `target`: the most complete answering
 * replica. A primary that does not answer holds nothing new (it accepts no
 * writes the router could acknowledge), so the election's own check decides.
 */
export function planSwitchover(input: {
  nodes: readonly string[];
  states: Readonly<Record<string, NodeState | null | undefined>>;
  primaryId: string | null;
  target?: string;
}): SwitchoverPlan {
  const { nodes, states, primaryId } = input;
  let targetId = input.target;
  if (targetId === undefined) {
    const replicas = nodes.filter((id) => id !== primaryId && states[id]);
    if (replicas.length === 0) return { kind: 'refuse', reason: 'no_replica' };
    targetId = replicas.reduce((b, id) => (compareLogs(states[id]!, states[b]!) > 0 ? id : b));
  }
  if (targetId === primaryId) return { kind: 'refuse', reason: 'target_is_primary', targetId };
  const target = states[targetId];
  if (!target) return { kind: 'refuse', reason: 'target_unreachable', targetId };
  const primary = primaryId === null ? undefined : states[primaryId];
  if (!primary || compareLogs(target, primary) >= 0) return { kind: 'ready', targetId };
  return { kind: 'wait', targetId, behind: Math.max(1, primary.lastSeq - target.lastSeq) };
}
