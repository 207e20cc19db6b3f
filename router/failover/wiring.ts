import type { Clock } from '../../src/core/clock.ts';
import type { Config } from '../../src/core/config/index.ts';
import { TesseraError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { RouterMetrics } from '../../src/core/metrics.ts';
import {
  COMMIT_HEADER, REPLICATION_PREFIX, type JoinRequest, type NodeState, type PromoteRequest, type PromoteResponse, type VoteRequest, type VoteResponse,
} from '../../src/core/protocol.ts';
import { electionGapMs, shouldElect } from '../../src/rules/index.ts';
import { Coordinator, type ElectionResult } from './coordinator.ts';
import { nodeHealth, type ShardFacts } from './cluster-status.ts';
import { HealthMonitor } from './health-monitor.ts';
import type { ShardRuntime } from '../replication/shard-runtime.ts';
import type { Shards } from '../replication/shards.ts';

// Failure handling wired to the router (router/FAILOVER.md "Wiring"): the
// health monitor feeds every node's state into its shard's view; after each
// observation the storm guard decides whether the shard's primary is gone
// and, if so, the shard's coordinator runs an election. The decisions live in
// health.ts / election.ts / coordinator.ts; this file only connects them.

export interface FailoverDeps {
  config: Readonly<Config>;
  shards: Shards;
  clock: Clock;
  log: Logger;
  metrics?: RouterMetrics;
}

/** What /v1/_cluster shows about a shard's last election. */
export interface ElectionSummary {
  at: string;
  reason: string;
  outcome: string;
  term: number | null;
  winner: string | null;
  durationMs: number;
  detail?: string;
}

/** Elections kept for the /ui timeline (all shards). */
const RECENT_ELECTIONS = 50;

interface ShardFailover {
  rt: ShardRuntime;
  coordinator: Coordinator;
  /** Last election that changed or tried to change the primary. */
  last: ElectionSummary | null;
}

export class Failover {
  readonly #d: FailoverDeps;
  readonly #monitor: HealthMonitor;
  readonly #byShard: ShardFailover[];
  readonly #startedAtMs: number;
  readonly #recent: Array<ElectionSummary & { shard: number }> = [];
  #stopped = false;

  constructor(deps: FailoverDeps) {
    this.#d = deps;
    const { config, shards, clock, log } = deps;
    const r = config.replication;
    this.#startedAtMs = clock.now();
    this.#byShard = shards.list.map((rt) => {
      const entry: ShardFailover = { rt, coordinator: null!, last: null };
      const client = (id: string) => rt.nodes.get(id)!.client;
      entry.coordinator = new Coordinator({
        shardId: rt.shardId,
        nodes: rt.view.nodeIds,
        failoverTimeoutMs: r.failoverTimeoutMs,
        clock,
        log,
        view: () => ({ term: rt.view.term, primaryId: rt.view.primaryId }),
        fetchState: async (id, timeoutMs) => (await client(id).json<NodeState>({ path: `${REPLICATION_PREFIX}/state`, timeoutMs })).body,
        vote: async (id, req: VoteRequest) =>
          (await client(id).json<VoteResponse>({ method: 'POST', path: `${REPLICATION_PREFIX}/vote`, body: req, timeoutMs: this.#stepMs() })).body,
        promote: async (id, req: PromoteRequest) =>
          (await client(id).json<PromoteResponse>({ method: 'POST', path: `${REPLICATION_PREFIX}/promote`, body: req, timeoutMs: this.#stepMs() })).body,
        join: async (id, req: JoinRequest) =>
          (await client(id).json<NodeState>({ method: 'POST', path: `${REPLICATION_PREFIX}/join`, body: req, timeoutMs: this.#stepMs() })).body,
        onAdopt: (term, primaryId) => this.#adopt(entry, term, primaryId),
        onElected: (term, primaryId) => this.#adopt(entry, term, primaryId),
      });
      return entry;
    });
    this.#monitor = new HealthMonitor({
      nodes: shards.nodes().map((n) => ({ id: n.id, url: n.client.url })),
      intervalMs: r.healthCheckIntervalMs,
      clock,
      poll: async (id) => {
        const node = shards.nodes().find((n) => n.id === id)!;
        // The commit point lets a primary that lost its log notice and step down even on an idle shard.
        const headers = { [COMMIT_HEADER]: String(shards.forNode(id)?.commitSeq ?? 0) };
        return (await node.client.json<NodeState>({ path: `${REPLICATION_PREFIX}/state`, headers, timeoutMs: Math.floor(r.healthCheckIntervalMs * 0.8) })).body;
      },
      onObservation: (id, state, nowMs) => this.#observe(id, state, nowMs),
    });
  }

  start(): void {
    this.#monitor.start();
  }

  stop(): void {
    this.#stopped = true;
    this.#monitor.stop();
  }

  lastElection(shardId: number): ElectionSummary | null {
    return this.#byShard[shardId]?.last ?? null;
  }

  /** The last elections of every shard, oldest first (the /ui timeline). */
  recentElections(): ReadonlyArray<ElectionSummary & { shard: number }> {
    return this.#recent;
  }

  /**
   * Planned switchover (POST /v1/_cluster/shards/{id}/failover): pause the
   * shard's writes, let the target catch up, elect it. Resolves with the new
   * primary, or throws 409 `conflict` when the target cannot take over.
   */
  async switchover(shardId: number, target: string | undefined): Promise<{ shard: number; primary: string; term: number }> {
    const f = this.#byShard[shardId]!;
    const { rt } = f;
    const r = this.#d.config.replication;
    const result = await f.coordinator.switchover({
      ...(target !== undefined ? { target } : {}),
      pauseWrites: async () => {
        rt.pauseWrites();
        // Writes already sent to the primary must land (or time out) first,
        // so the target is measured against a log that no longer moves.
        await rt.writesSettled(this.#d.clock.now() + r.writeTimeoutMs);
        return () => rt.resumeWrites();
      },
      catchUpTimeoutMs: r.writeTimeoutMs,
      pollMs: Math.min(50, r.healthCheckIntervalMs),
    });
    this.#record(f, result);
    if ((result.outcome === 'elected' || result.outcome === 'adopted') && result.primaryId !== undefined && result.term !== undefined) {
      return { shard: shardId, primary: result.primaryId, term: result.term };
    }
    throw new TesseraError('conflict', `Failover of shard ${shardId} did not happen: ${result.outcome}${result.detail ? ` (${result.detail})` : ''}`, {
      outcome: result.outcome,
    });
  }

  #stepMs(): number {
    return Math.max(50, Math.floor(this.#d.config.replication.failoverTimeoutMs / 3));
  }

  #observe(nodeId: string, state: NodeState | null, nowMs: number): void {
    const { shards } = this.#d;
    shards.observe(nodeId, state, nowMs);
    const f = this.#byShard.find((s) => s.rt.nodes.has(nodeId));
    if (!f || this.#stopped) return;
    const facts = f.rt.facts();
    this.#updateLagMetrics(facts, nowMs);
    // A fresh data dir: join it to the shard once a majority of the others can say the current term.
    if (state?.joined === false) void f.coordinator.runJoin(nodeId).then((sent) => { if (sent && !this.#stopped) void this.#monitor.tickNow(); });
    if (f.coordinator.running) return;
    const primary = facts.nodes.find((n) => n.isPrimary);
    const primaryHealth = primary ? nodeHealth(facts, primary, nowMs, this.#d.config.replication).health : null;
    const lastEnd = f.coordinator.lastEndMs ?? this.#startedAtMs;
    const minGapMs = electionGapMs(this.#d.config.replication.healthCheckIntervalMs);
    const graceMs = this.#d.config.replication.failoverTimeoutMs;
    if (!shouldElect({ primaryHealth, lastElectionEndMs: lastEnd, nowMs, minGapMs, primarySinceMs: f.rt.viewSinceMs, graceMs })) return;
    void f.coordinator.runElection({ reason: 'primary_offline' }).then((result) => this.#record(f, result));
  }

  #adopt(f: ShardFailover, term: number, primaryId: string): void {
    f.rt.adopt(term, primaryId);
    // Every node should hear about the new term now, not at the next tick.
    if (!this.#stopped) void this.#monitor.tickNow();
  }

  #record(f: ShardFailover, result: ElectionResult): void {
    const { metrics } = this.#d;
    const shard = String(f.rt.shardId);
    metrics?.elections.inc({ shard, reason: result.reason, outcome: result.outcome });
    if (result.outcome === 'elected') metrics?.electionDuration.observe({ shard }, result.durationMs / 1000);
    // Repeated no_quorum rounds during an outage would bury the election that mattered.
    if (result.outcome === 'no_quorum' && f.last?.outcome === 'no_quorum') return;
    f.last = {
      at: new Date(result.startedAt).toISOString(),
      reason: result.reason,
      outcome: result.outcome,
      term: result.term ?? null,
      winner: result.primaryId ?? null,
      durationMs: result.durationMs,
      ...(result.detail ? { detail: result.detail } : {}),
    };
    this.#recent.push({ shard: f.rt.shardId, ...f.last });
    if (this.#recent.length > RECENT_ELECTIONS) this.#recent.shift();
  }

  #updateLagMetrics(facts: ShardFacts, nowMs: number): void {
    const { metrics } = this.#d;
    if (!metrics) return;
    for (const n of facts.nodes) {
      const labels = { shard: String(facts.id), node: n.id };
      if (n.isPrimary) {
        // A promoted replica would otherwise keep reporting its last lag forever.
        metrics.lagEntries.remove(labels);
        metrics.lagMs.remove(labels);
        continue;
      }
      const h = nodeHealth(facts, n, nowMs, this.#d.config.replication);
      metrics.lagEntries.set(labels, h.lag);
      if (h.lagMs !== null) metrics.lagMs.set(labels, h.lagMs);
    }
  }
}
