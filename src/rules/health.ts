import type { NodeState } from '../core/protocol.ts';
import type { StreamMode } from './replica-progress.ts';

// Health of one node as the router sees it (DESIGN §5.4, router/DESIGN.md
// "Failure handling"). Pure: the monitor feeds observations in, the status
// endpoint and the election guard read the verdict out.

export type Health = 'InSync' | 'Lagging' | 'CatchingUp' | 'Offline';

/**
 * Lag below this many entries is never `Lagging`. Without it an idle shard
 * (write rate ~0) would call a replica one relay behind `Lagging`, and a
 * busy one would flap on every batch boundary.
 */
export const MIN_LAG_ENTRIES = 16;

export interface HealthInput {
  /** Last state the node answered with; null when it never answered. */
  state: NodeState | null;
  /** When that answer arrived; null when never. */
  lastSeenMs: number | null;
  nowMs: number;
  /** The primary's lastSeq as the router last knew it. */
  primaryLastSeq: number;
  /** Observed write rate of the shard, entries per millisecond (>= 0). */
  writeRatePerMs: number;
  maxReplicationLagMs: number;
  failoverTimeoutMs: number;
  isPrimary: boolean;
  /** Mode of the router's ReplicaStream to this node, when it has one. */
  streamMode?: StreamMode;
  /** Overrides MIN_LAG_ENTRIES (tests, tiny clusters). */
  minLagEntries?: number;
}

export function classifyHealth(input: HealthInput): Health {
  const { state, lastSeenMs, nowMs } = input;
  if (state === null || lastSeenMs === null || nowMs - lastSeenMs > input.failoverTimeoutMs) return 'Offline';
  if (!state.ready) return 'CatchingUp';
  // The primary is the reference point: it cannot lag behind itself, and no
  // stream runs towards it.
  if (input.isPrimary) return 'InSync';
  if (input.streamMode === 'probe' || input.streamMode === 'snapshot') return 'CatchingUp';
  return lagEntries(state, input.primaryLastSeq) > lagThresholdEntries(input) ? 'Lagging' : 'InSync';
}

/** Entries the node is behind the primary (0 when level or ahead of a stale view). */
export function lagEntries(state: NodeState | null, primaryLastSeq: number): number {
  if (state === null) return primaryLastSeq;
  return Math.max(0, primaryLastSeq - state.lastSeq);
}

/**
 * Time the node is behind, estimated from the write rate: `lag / rate`.
 * null when it is behind but the shard is idle, because then the lag in
 * time is unknown (not infinite: the node may be catching up right now).
 */
export function lagMs(entries: number, writeRatePerMs: number): number | null {
  if (entries === 0) return 0;
  if (!(writeRatePerMs > 0)) return null;
  return Math.round(entries / writeRatePerMs);
}

/** `maxReplicationLagMs` worth of entries at the observed rate, floored. */
export function lagThresholdEntries(input: Pick<HealthInput, 'writeRatePerMs' | 'maxReplicationLagMs' | 'minLagEntries'>): number {
  const rate = input.writeRatePerMs > 0 ? input.writeRatePerMs : 0;
  return Math.max(input.minLagEntries ?? MIN_LAG_ENTRIES, Math.ceil(rate * input.maxReplicationLagMs));
}

/** The shard's write rate, smoothed, from successive primary lastSeq readings. */
export interface WriteRate {
  ratePerMs: number;
  seq: number;
  atMs: number;
}

/**
 * Exponentially weighted: a reading `halfLifeMs` old weighs half. A seq that
 * went backwards (new primary, rollback) restarts the baseline but keeps the
 * rate, so the Lagging threshold does not collapse during a failover.
 */
export function updateWriteRate(prev: WriteRate | null, seq: number, nowMs: number, halfLifeMs = 5000): WriteRate {
  if (prev === null) return { ratePerMs: 0, seq, atMs: nowMs };
  if (nowMs <= prev.atMs) return prev;
  if (seq < prev.seq) return { ratePerMs: prev.ratePerMs, seq, atMs: nowMs };
  const dt = nowMs - prev.atMs;
  const keep = Math.pow(0.5, dt / halfLifeMs);
  return { ratePerMs: prev.ratePerMs * keep + ((seq - prev.seq) / dt) * (1 - keep), seq, atMs: nowMs };
}
