import type { ReplicationConfig } from '../src/config/index.ts';
import type { NodeState } from '../src/protocol.ts';
import type { StreamMode } from './replica-plan.ts';
import type { NodeSeen } from './shard-view.ts';

// What `GET /v1/_cluster` and `/readyz` report, as pure functions over the
// shard views. The health classification here is the simple version; the
// failover classifier (router/health.ts) replaces it when it is wired in.

export type Health = 'InSync' | 'Lagging' | 'CatchingUp' | 'Offline';

export interface NodeFacts {
  id: string;
  url: string;
  seen: NodeSeen;
  isPrimary: boolean;
  /** The replica stream's view of it (replicas only). */
  stream?: { mode: StreamMode; matchSeq: number | null; reachable: boolean };
}

export interface ShardFacts {
  id: number;
  term: number;
  primaryId: string | null;
  commitSeq: number;
  primaryLastSeq: number;
  nodes: NodeFacts[];
}

/** Entries behind the primary beyond which a reachable replica counts as Lagging (no write-rate model yet). */
export const LAGGING_ENTRIES = 1000;

export function nodeHealth(n: NodeFacts, lagEntries: number, nowMs: number, r: Pick<ReplicationConfig, 'failoverTimeoutMs'>): Health {
  const { lastSeenMs } = n.seen;
  if (lastSeenMs === null || nowMs - lastSeenMs > r.failoverTimeoutMs) return 'Offline';
  if (n.stream && !n.stream.reachable) return 'Offline';
  if (n.seen.state?.ready === false || n.stream?.mode === 'probe' || n.stream?.mode === 'snapshot') return 'CatchingUp';
  if (lagEntries > LAGGING_ENTRIES) return 'Lagging';
  return 'InSync';
}

export function describeShard(s: ShardFacts, nowMs: number, r: Pick<ReplicationConfig, 'failoverTimeoutMs'>) {
  const primaryLast = Math.max(s.primaryLastSeq, s.nodes.find((n) => n.isPrimary)?.seen.state?.lastSeq ?? 0);
  return {
    id: s.id,
    term: s.term,
    primaryId: s.primaryId,
    commitSeq: s.commitSeq,
    nodes: s.nodes.map((n) => {
      const st: NodeState | null = n.seen.state;
      const lastSeq = Math.max(st?.lastSeq ?? 0, n.stream?.matchSeq ?? 0);
      const lag = n.isPrimary ? 0 : Math.max(0, primaryLast - lastSeq);
      return {
        id: n.id,
        url: n.url,
        role: n.isPrimary ? 'primary' : (st?.role ?? 'replica'),
        term: st?.term ?? null,
        lastSeq: st ? lastSeq : null,
        commitSeq: st?.commitSeq ?? null,
        lag,
        health: nodeHealth(n, lag, nowMs, r),
        rollbackCount: st?.rollbackCount ?? 0,
        lastSeenMs: n.seen.lastSeenMs,
      };
    }),
  };
}

/** Ready = every shard has a primary and a reachable write quorum (primary included). */
export function readiness(shards: ReadonlyArray<ShardFacts>, nowMs: number, r: Pick<ReplicationConfig, 'failoverTimeoutMs' | 'writeQuorum'>): { ready: true } | { ready: false; reason: string } {
  for (const s of shards) {
    if (s.primaryId === null) return { ready: false, reason: `shard ${s.id} has no primary` };
    const primary = s.nodes.find((n) => n.id === s.primaryId);
    if (!primary || nodeHealth(primary, 0, nowMs, r) === 'Offline') return { ready: false, reason: `shard ${s.id}: primary ${s.primaryId} is offline` };
    const up = s.nodes.filter((n) => nodeHealth(n, 0, nowMs, r) !== 'Offline').length;
    if (up < r.writeQuorum) return { ready: false, reason: `shard ${s.id}: ${up} of ${r.writeQuorum} copies needed for a write quorum are reachable` };
  }
  return { ready: true };
}
