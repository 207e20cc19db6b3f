import type { FastifyInstance } from 'fastify';
import { dbParams, docId, docFields } from '../../src/core/doc/schema.ts';
import type { Doc } from '../../src/core/protocol.ts';
import type { BulkItem, GroupCommit, Store } from '../store/index.ts';
import { requireSecret } from './auth-hook.ts';
import { writeGuard } from './router-headers.ts';

// `POST /v1/db/{db}/_restore` (internal, the cluster secret): documents of a
// backup written as they were, rev kept, through the log (the store's
// restore). The router's /v1/_backup routes call it on each shard's primary;
// shard/DESIGN.md "Restore" says why it is safe to repeat.

export interface RestoreRoutesDeps {
  store: Store;
  commit: GroupCommit;
  secret: string;
  owns: (id: string) => boolean;
  bodyLimit: number;
}

export const RESTORE_MAX_DOCS = 1000;

export const restoreBody = {
  type: 'object', required: ['docs'], additionalProperties: false,
  properties: {
    docs: {
      type: 'array', maxItems: RESTORE_MAX_DOCS,
      items: {
        type: 'object', required: ['id', 'rev', 'data'], additionalProperties: false,
        properties: { id: docId, ...docFields, rev: { type: 'string', minLength: 1, maxLength: 100 }, deleted: { type: 'boolean', enum: [true] } },
      },
    },
  },
} as const;

export async function restoreRoutes(app: FastifyInstance, deps: RestoreRoutesDeps): Promise<void> {
  const { store, commit } = deps;
  app.addHook('onRequest', requireSecret(deps.secret));
  app.post<{ Params: { db: string }; Body: { docs: Doc[] } }>('/v1/db/:db/_restore', {
    bodyLimit: deps.bodyLimit,
    schema: { params: dbParams, querystring: { type: 'object', properties: {}, additionalProperties: false }, body: restoreBody },
  }, async (req, reply) => {
    const { guard, stamped } = writeGuard(req, store);
    const docs = req.body.docs;
    const refused = docs.map((d): BulkItem | null => (deps.owns(d.id) ? null : { id: d.id, error: 'bad_request', reason: `document ${d.id} belongs to another shard` }));
    const r = await commit.run(() => store.restore(req.params.db, docs.filter((_, i) => refused[i] === null), guard));
    let k = 0;
    const results = refused.map((item) => item ?? r.body.results[k++]!);
    reply.status(r.status);
    return reply.send(stamped ? { ...r.body, results, entries: r.entries } : { ...r.body, results });
  });
}
