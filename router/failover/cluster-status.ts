import type { ReplicationConfig } from '../../src/core/config/index.ts';
import type { NodeState } from '../../src/core/protocol.ts';
import { classifyHealth, lagEntries, lagMs, type Health, type StreamMode } from '../../src/rules/index.ts';
import type { NodeSeen } from '../replication/shard-view.ts';

// What `GET /v1/_cluster` and `/readyz` report, as pure functions over plain
// facts about each shard. Health itself is classifyHealth (health.ts), the
// same verdict the election guard acts on.

export type { Health };

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
  /** Smoothed write rate of the shard (entries/ms), for the Lagging threshold. */
  writeRatePerMs: number;
  nodes: NodeFacts[];
}

type HealthConfig = Pick<ReplicationConfig, 'failoverTimeoutMs' | 'maxReplicationLagMs'>;

function primaryLast(s: ShardFacts): number {
  const p = s.nodes.find((n) => n.isPrimary)?.seen.state;
  return Math.max(s.primaryLastSeq, p && p.term === s.term ? p.lastSeq : 0);
}

/** A node's health, its lag in entries and (estimated) in ms. */
export function nodeHealth(s: ShardFacts, n: NodeFacts, nowMs: number, r: HealthConfig): { health: Health; lag: number; lagMs: number | null; lastSeq: number | null } {
  const st: NodeState | null = n.seen.state;
  // A replica's own state can be one poll old; the stream's match point is fresher.
  const lastSeq = st ? Math.max(st.lastSeq, n.stream?.matchSeq ?? 0) : null;
  const lag = n.isPrimary || st === null ? 0 : lagEntries({ ...st, lastSeq: lastSeq! }, primaryLast(s));
  let health = classifyHealth({
    state: st, lastSeenMs: n.seen.lastSeenMs, nowMs, primaryLastSeq: primaryLast(s), writeRatePerMs: s.writeRatePerMs,
    maxReplicationLagMs: r.maxReplicationLagMs, failoverTimeoutMs: r.failoverTimeoutMs, isPrimary: n.isPrimary,
    ...(n.stream ? { streamMode: n.stream.mode } : {}),
  });
  // The stream talks to the replica far more often than the monitor polls it.
  if (n.stream && !n.stream.reachable) health = 'Offline';
  return { health, lag, lagMs: lagMs(lag, s.writeRatePerMs), lastSeq };
}

export function describeShard(s: ShardFacts, nowMs: number, r: HealthConfig) {
  return {
    id: s.id,
    term: s.term,
    primaryId: s.primaryId,
    commitSeq: s.commitSeq,
    nodes: s.nodes.map((n) => {
      const st = n.seen.state;
      const h = nodeHealth(s, n, nowMs, r);
      return {
        id: n.id,
        url: n.url,
        role: n.isPrimary ? 'primary' : (st?.role ?? 'replica'),
        term: st?.term ?? null,
        lastSeq: h.lastSeq,
        commitSeq: st?.commitSeq ?? null,
        lag: h.lag,
        lagMs: h.lagMs,
        health: h.health,
        ready: st?.ready ?? false,
        rollbackCount: st?.rollbackCount ?? 0,
        lastSeenMs: n.seen.lastSeenMs,
      };
    }),
  };
}

/** Ready = every shard has a primary and a reachable write quorum (primary included). */
export function readiness(shards: ReadonlyArray<ShardFacts>, nowMs: number, r: HealthConfig & Pick<ReplicationConfig, 'writeQuorum'>): { ready: true } | { ready: false; reason: string } {
  for (const s of shards) {
    if (s.primaryId === null) return { ready: false, reason: `shard ${s.id} has no primary` };
    const primary = s.nodes.find((n) => n.id === s.primaryId);
    if (!primary || nodeHealth(s, primary, nowMs, r).health === 'Offline') return { ready: false, reason: `shard ${s.id}: primary ${s.primaryId} is offline` };
    const up = s.nodes.filter((n) => nodeHealth(s, n, nowMs, r).health !== 'Offline').length;
    if (up < r.writeQuorum) return { ready: false, reason: `shard ${s.id}: ${up} of ${r.writeQuorum} copies needed for a write quorum are reachable` };
  }
  return { ready: true };
}
