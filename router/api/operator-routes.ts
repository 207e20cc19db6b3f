import type { FastifyPluginAsync } from 'fastify';
import type { ReplicationConfig, UserConfig } from '../../src/core/config/index.ts';
import { authenticate, decideAccess } from '../../src/core/http/access.ts';
import { denied } from './access-hook.ts';
import { TesseraError } from '../../src/core/errors.ts';
import { bearerChecker } from '../../src/core/http/auth.ts';
import { describeShard, readiness } from '../failover/cluster-status.ts';
import type { RouterContext } from './scatter.ts';
import { R } from './responses.ts';
import { noQuery, shardParams } from './schemas.ts';

// Operator endpoints (DESIGN §4): liveness, readiness and the cluster table
// are open and never include the secret; POST /v1/_cluster/... changes the
// cluster and needs `Authorization: Bearer <cluster.secret>`.

const failoverBody = {
  type: 'object',
  additionalProperties: false,
  properties: { to: { type: 'string', minLength: 1, maxLength: 64, description: 'Node id to promote; default: the most up-to-date replica' } },
} as const;

export function operatorRoutes(ctx: RouterContext, replication: Readonly<ReplicationConfig>, secret: string, users?: ReadonlyArray<UserConfig>): FastifyPluginAsync {
  const isSecret = bearerChecker(secret);
  return async (app) => {
    app.get('/healthz', { schema: { summary: 'Liveness', tags: ['operator'], querystring: noQuery, response: R.healthz } }, async () => ({ ok: true }));

    app.get('/readyz', { schema: { summary: 'Ready when every shard has a primary and a reachable write quorum', tags: ['operator'], querystring: noQuery, response: R.readyz } }, async (_req, reply) => {
      const r = readiness(ctx.shards.list.map((rt) => rt.facts()), ctx.clock.now(), replication);
      return reply.status(r.ready ? 200 : 503).send(r);
    });

    app.get('/v1/_cluster', { schema: { summary: 'Shards and nodes: role, term, lastSeq, commitSeq, lag, health, rollbacks, last election', tags: ['operator'], querystring: noQuery, response: R.cluster } }, async () => {
      const now = ctx.clock.now();
      return {
        shards: ctx.shards.list.map((rt) => ({
          ...describeShard(rt.facts(), now, replication),
          writesPaused: rt.writesPaused,
          lastElection: ctx.failover?.lastElection(rt.shardId) ?? null,
        })),
      };
    });

    app.post<{ Params: { id: string }; Body: { to?: string } | undefined }>('/v1/_cluster/shards/:id/failover', {
      schema: {
        summary: 'Planned switchover: the target catches up with writes paused, then is elected (409 if it cannot)',
        tags: ['operator'],
        security: [{ clusterSecret: [] }, { clientToken: [] }],
        params: shardParams,
        querystring: noQuery,
        body: failoverBody,
        response: R.failover,
      },
      // Before validation: an unauthenticated caller learns nothing about the body rules.
      // The cluster secret, or (with an auth block) the token of an admin of every database.
      onRequest: async (req) => {
        if (isSecret(req.headers.authorization)) return;
        if (!users) throw new TesseraError('unauthorized', 'Missing or wrong cluster secret', {}, { 'www-authenticate': 'Bearer realm="tessera"' });
        const a = decideAccess(authenticate(users, req.headers.authorization), 'admin', undefined, { cluster: true });
        if (a.kind !== 'allow') throw denied(a.kind, a.reason);
      },
    }, async (req) => {
      const shardId = Number(req.params.id);
      const rt = ctx.shards.list[shardId];
      if (!rt) throw new TesseraError('not_found', `No shard ${shardId}`);
      const to = req.body?.to;
      if (to !== undefined && !rt.nodes.has(to)) throw new TesseraError('not_found', `No node ${to} in shard ${shardId}`);
      if (!ctx.failover) throw new TesseraError('unavailable', 'Failover is not running on this router');
      return ctx.failover.switchover(shardId, to);
    });
  };
}
