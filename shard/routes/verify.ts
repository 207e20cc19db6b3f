import type { FastifyInstance } from 'fastify';
import { DB_NAME_PATTERN, DOC_ID_PATTERN, UINT_PATTERN } from '../../src/core/doc/names.ts';
import { errors } from '../../src/core/errors.ts';
import { DEFAULT_DEPTH } from '../../src/core/merkle.ts';
import { digestAt, digestDocs } from '../store/digest.ts';
import type { GroupCommit, Store } from '../store/index.ts';
import { requireSecret } from './auth-hook.ts';
import { writeGuard } from './router-headers.ts';

// Anti-entropy on a node (router/VERIFY.md), under /v1/_replication with the
// cluster secret like every internal route:
//   GET  /digest?seq=S&depth=D            this copy's Merkle leaves as of seq S
//   GET  /digest/docs?seq=S&depth=D&leaves=i,j,...   the documents of those leaves, hashed
//   POST /repair {db, id}                 (primary) a `repair` entry with its head of (db, id)

export interface VerifyRoutesDeps {
  store: Store;
  commit: GroupCommit;
  secret: string;
}

const LEAVES_PATTERN = '^(0|[1-9][0-9]{0,5})(,(0|[1-9][0-9]{0,5})){0,4095}$';

const digestQuery = {
  type: 'object',
  additionalProperties: false,
  required: ['seq'],
  properties: { seq: { type: 'string', pattern: UINT_PATTERN }, depth: { type: 'string', pattern: '^([0-9]|1[0-6])$' } },
} as const;

export async function verifyRoutes(app: FastifyInstance, deps: VerifyRoutesDeps): Promise<void> {
  const { store, commit } = deps;
  app.addHook('onRequest', requireSecret(deps.secret));

  app.get<{ Querystring: { seq: string; depth?: string } }>('/digest', { schema: { querystring: digestQuery } }, async (req) => {
    const answer = await digestAt(store.path, Number(req.query.seq), Number(req.query.depth ?? DEFAULT_DEPTH));
    return { nodeId: store.nodeId, ...answer };
  });

  app.get<{ Querystring: { seq: string; depth?: string; leaves: string } }>('/digest/docs', {
    schema: {
      querystring: { ...digestQuery, required: ['seq', 'leaves'], properties: { ...digestQuery.properties, leaves: { type: 'string', pattern: LEAVES_PATTERN } } },
    },
  }, async (req) => {
    const depth = Number(req.query.depth ?? DEFAULT_DEPTH);
    const leaves = new Set(req.query.leaves.split(',').map(Number));
    for (const l of leaves) if (l >= 2 ** depth) throw errors.badRequest(`querystring.leaves: ${l} is not a leaf of a depth-${depth} tree (max ${2 ** depth - 1})`, { path: 'querystring.leaves' });
    const answer = await digestDocs(store.path, Number(req.query.seq), depth, leaves);
    return { nodeId: store.nodeId, ...answer };
  });

  app.post<{ Body: { db: string; id: string } }>('/repair', {
    schema: {
      body: { type: 'object', additionalProperties: false, required: ['db', 'id'], properties: { db: { type: 'string', pattern: DB_NAME_PATTERN }, id: { type: 'string', pattern: DOC_ID_PATTERN } } },
    },
  }, async (req, reply) => {
    const { guard, stamped } = writeGuard(req, store);
    const r = await commit.run(() => store.repair(req.body.db, req.body.id, guard));
    reply.status(r.status);
    return stamped ? { ...r.body, entries: r.entries } : r.body;
  });
}

