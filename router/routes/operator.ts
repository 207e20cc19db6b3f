import type { FastifyPluginAsync } from 'fastify';
import type { ReplicationConfig } from '../../src/config/index.ts';
import { describeShard, readiness } from '../cluster-status.ts';
import type { RouterContext } from '../scatter.ts';

// Open operator endpoints (DESIGN §4): liveness, readiness and the cluster
// table. They never include the secret. (POST /v1/_cluster/... with its
// bearer check arrives with the coordinator.)

export function operatorRoutes(ctx: RouterContext, replication: Readonly<ReplicationConfig>): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { summary: 'Liveness' } }, async () => ({ ok: true }));

    app.get('/readyz', { schema: { summary: 'Ready when every shard has a primary and a reachable write quorum' } }, async (_req, reply) => {
      const r = readiness(ctx.shards.list.map((rt) => rt.facts()), ctx.clock.now(), replication);
      return reply.status(r.ready ? 200 : 503).send(r);
    });

    app.get('/v1/_cluster', { schema: { summary: 'Shards and nodes: role, term, lastSeq, commitSeq, lag, health' } }, async () => {
      const now = ctx.clock.now();
      return { shards: ctx.shards.list.map((rt) => describeShard(rt.facts(), now, replication)) };
    });
  };
}
