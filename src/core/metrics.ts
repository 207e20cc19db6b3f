import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// Prometheus metrics (GET /metrics, prom-client). One registry per process,
// never the global one, so tests can build several apps in one process.
// Names are part of what operators alert on: extend, do not rename.

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createHttpMetrics(registry: Registry) {
  return {
    requests: new Counter({
      name: 'tessera_http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'tessera_http_request_duration_seconds',
      help: 'HTTP request latency by route, method and status',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}

export function createRouterMetrics(registry: Registry) {
  return {
    quorumWait: new Histogram({
      name: 'tessera_quorum_wait_seconds',
      help: 'Time from the primary\'s answer until the write reached its quorum (or timed out)',
      labelNames: ['shard', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    acks: new Histogram({
      name: 'tessera_write_acks',
      help: 'Durable copies when a write was answered',
      labelNames: ['shard'] as const,
      buckets: [0, 1, 2, 3, 4, 5, 7],
      registers: [registry],
    }),
    relayBatch: new Histogram({
      name: 'tessera_relay_batch_entries',
      help: 'Entries per replicate batch sent to a replica',
      labelNames: ['shard'] as const,
      buckets: [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers: [registry],
    }),
    lagEntries: new Gauge({
      name: 'tessera_replication_lag_entries',
      help: 'Entries a replica is behind its primary',
      labelNames: ['shard', 'node'] as const,
      registers: [registry],
    }),
    lagMs: new Gauge({
      name: 'tessera_replication_lag_ms',
      help: 'Estimated time a replica is behind its primary',
      labelNames: ['shard', 'node'] as const,
      registers: [registry],
    }),
    elections: new Counter({
      name: 'tessera_elections_total',
      help: 'Elections by outcome',
      labelNames: ['shard', 'reason', 'outcome'] as const,
      registers: [registry],
    }),
    electionDuration: new Histogram({
      name: 'tessera_election_duration_seconds',
      help: 'Time an election took',
      labelNames: ['shard'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    catchUpEntries: new Counter({
      name: 'tessera_catchup_entries_total',
      help: 'Entries sent to replicas outside the normal relay: read from the primary\'s WAL, or sent while the replica catches up',
      labelNames: ['shard', 'node'] as const,
      registers: [registry],
    }),
    snapshots: new Counter({
      name: 'tessera_snapshot_installs_total',
      help: 'Snapshots piped from a primary into a replica',
      labelNames: ['shard', 'node', 'outcome'] as const,
      registers: [registry],
    }),
    rollbacks: new Counter({
      name: 'tessera_rollback_entries_total',
      help: 'Entries replicas rolled back on rejoin (never-quorum writes)',
      labelNames: ['shard', 'node'] as const,
      registers: [registry],
    }),
    divergentDocs: new Gauge({
      name: 'tessera_antientropy_divergent_documents',
      help: 'Documents whose copies differed in the last anti-entropy pass over the shard (replication.antiEntropyIntervalMs)',
      labelNames: ['shard'] as const,
      registers: [registry],
    }),
    antiEntropyRuns: new Counter({
      name: 'tessera_antientropy_runs_total',
      help: 'Anti-entropy passes by outcome (consistent, divergent, incomplete, failed)',
      labelNames: ['shard', 'outcome'] as const,
      registers: [registry],
    }),
  };
}

export function createShardMetrics(registry: Registry) {
  return {
    commitTime: new Histogram({
      name: 'tessera_sqlite_commit_seconds',
      help: 'Time to run and commit one group-commit transaction',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    groupSize: new Histogram({
      name: 'tessera_group_commit_writes',
      help: 'Writes per group-commit transaction',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    }),
    rollbacks: new Counter({
      name: 'tessera_node_rollback_entries_total',
      help: 'Entries this node moved to its rollback table',
      registers: [registry],
    }),
    lastSeq: new Gauge({ name: 'tessera_node_last_seq', help: 'Last seq in this node\'s log', registers: [registry] }),
    commitSeq: new Gauge({ name: 'tessera_node_commit_seq', help: 'Highest seq this node knows is quorum-committed', registers: [registry] }),
    term: new Gauge({ name: 'tessera_node_term', help: 'Current term of this node', registers: [registry] }),
  };
}

/**
 * Counts every request of an app by route, method and status, with its
 * latency. Route labels use the route pattern (`/v1/db/:db/docs/:id`), never
 * the raw URL, so the label set stays bounded. Call before registering the
 * routes' plugins (a root hook reaches every plugin registered after it).
 */
export function installRequestMetrics(app: FastifyInstance, registry: Registry): void {
  const http = createHttpMetrics(registry);
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const labels = { route, method: req.method, status: String(reply.statusCode) };
    http.requests.inc(labels);
    http.latency.observe(labels, reply.elapsedTime / 1000);
  });
}

/** Process metrics (CPU, memory, event loop lag, GC) under their standard names. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
}

/**
 * Request metrics, process metrics and an open `GET /metrics` (the router's;
 * a shard node serves its registry behind the secret instead).
 */
export function installMetrics(app: FastifyInstance, registry: Registry): void {
  collectProcessMetrics(registry);
  installRequestMetrics(app, registry);
  app.get('/metrics', { schema: { hide: true } as Record<string, unknown> }, async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}

export { Registry };
export type RouterMetrics = ReturnType<typeof createRouterMetrics>;
export type ShardMetrics = ReturnType<typeof createShardMetrics>;
