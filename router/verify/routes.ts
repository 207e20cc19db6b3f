import type { FastifyPluginAsync } from 'fastify';
import type { UserConfig } from '../../src/core/config/index.ts';
import { TesseraError } from '../../src/core/errors.ts';
import { authenticate, decideAccess } from '../../src/core/http/access.ts';
import { bearerChecker } from '../../src/core/http/auth.ts';
import { denied } from '../api/access-hook.ts';
import type { RouterContext } from '../api/scatter.ts';
import { R } from '../api/responses.ts';
import { shardParams } from '../api/schemas.ts';
import { repairShard, verifyShard } from './shard-verify.ts';

// GET /v1/_cluster/shards/{id}/verify and POST /v1/_cluster/shards/{id}/repair
// (router/VERIFY.md). Both need the cluster secret or, with an `auth` block,
// the token of an admin of every database (as POST /v1/_cluster/... does):
// verify reads every copy of the shard in full (open, it would be a cheap way
// to load every node) and names documents of every db; repair changes data.

const verifyQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { depth: { type: 'string', pattern: '^([4-9]|1[0-6])$', description: 'Tree depth: 2^depth id-hash ranges (default 10)' } },
} as const;

export function verifyRoutes(ctx: RouterContext, secret: string, users?: ReadonlyArray<UserConfig>): FastifyPluginAsync {
  const isSecret = bearerChecker(secret);
  const deps = { clock: ctx.clock, writeTimeoutMs: ctx.writeTimeoutMs, ...(ctx.metrics ? { metrics: ctx.metrics } : {}) };
  return async (app) => {
    // Before validation: an unauthenticated caller learns nothing about the rules.
    app.addHook('onRequest', async (req) => {
      if (isSecret(req.headers.authorization)) return;
      if (!users) throw new TesseraError('unauthorized', 'Missing or wrong cluster secret', {}, { 'www-authenticate': 'Bearer realm="tessera"' });
      const a = decideAccess(authenticate(users, req.headers.authorization), 'admin', undefined, { cluster: true });
      if (a.kind !== 'allow') throw denied(a.kind, a.reason);
    });
    const runtime = (id: string) => {
      const rt = ctx.shards.list[Number(id)];
      if (!rt) throw new TesseraError('not_found', `No shard ${id}`);
      return rt;
    };

    app.get<{ Params: { id: string }; Querystring: { depth?: string } }>('/v1/_cluster/shards/:id/verify', {
      schema: {
        summary: 'Anti-entropy: compare every copy of the shard at one seq (Merkle trees), name the documents that differ',
        tags: ['operator'], security: [{ clusterSecret: [] }, { clientToken: [] }], params: shardParams, querystring: verifyQuery, response: R.verify,
      },
    }, async (req) => verifyShard(deps, runtime(req.params.id), req.query.depth ? { depth: Number(req.query.depth) } : {}));

    app.post<{ Params: { id: string }; Querystring: { depth?: string }; Body: Record<string, never> | undefined }>('/v1/_cluster/shards/:id/repair', {
      schema: {
        summary: 'Verify, then make every divergent copy equal to the primary\'s through `repair` log entries, then verify again',
        tags: ['operator'], security: [{ clusterSecret: [] }, { clientToken: [] }], params: shardParams, querystring: verifyQuery,
        body: { type: 'object', additionalProperties: false, properties: {} },
        response: R.repair,
      },
    }, async (req) => {
      const rt = runtime(req.params.id);
      const opts = req.query.depth ? { depth: Number(req.query.depth) } : {};
      const before = await verifyShard(deps, rt, opts);
      const repairs = await repairShard(deps, rt, before);
      const highest = Math.max(0, ...repairs.map((r) => r.seq ?? 0));
      const after = repairs.length === 0 ? before : await verifyShard(deps, rt, { ...opts, minSeq: highest });
      return { shard: rt.shardId, before, repairs, after };
    });
  };
}
