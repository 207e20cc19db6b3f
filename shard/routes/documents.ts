import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../../src/core/errors.ts';
import type { DocBody } from '../../src/core/doc/rev.ts';
import { docBody } from '../../src/core/doc/body.ts';
import { bulkDocProblem, dataProblem } from '../../src/core/doc/check.ts';
import { jsonProblem, MAX_BODY_DEPTH } from '../../src/core/doc/limits.ts';
import { parseSearch } from '../../src/core/doc/search-query.ts';
import { bulkBody, dbParams, docParams, docWriteBody, rev as revSchema, uintQuery } from '../../src/core/doc/schema.ts';
import { ifMatch } from '../../src/core/http/headers.ts';
import { PENDING_HEADER, SEQ_HEADER } from '../../src/core/protocol.ts';
import type { Store, GroupCommit, WriteResult, BulkDoc, BulkItem, FieldsQuery, TagsQuery } from '../store/index.ts';
import { requireSecret } from './auth-hook.ts';
import { readPoint, writeGuard } from './router-headers.ts';

// The §4 document API, served by a node for its own shard. Reads work on any
// node; writes only on the primary (the store's guard). Answers of writes
// carry `seq` and, for a router-stamped write, the entries it appended.

export interface DocumentRoutesDeps {
  store: Store;
  commit: GroupCommit;
  secret: string;
  maxDocBytes: number;
  /** Whether a document id belongs to this node's shard. */
  owns: (id: string) => boolean;
  newId: () => string;
}

const intQ = uintQuery('non-negative integer');
// Closed like the router's: an unknown field or parameter is a 400 naming it.
const noQuery = { type: 'object', properties: {}, additionalProperties: false } as const;
const revQuery = { type: 'object', properties: { rev: revSchema }, additionalProperties: false } as const;

/** The FTS5 expression of a `_search` query; 400 naming the problem otherwise. */
function searchExpression(q: string): string {
  const parsed = parseSearch(q);
  if (!parsed.ok) throw errors.badRequest(`querystring.q: ${parsed.error} (see README "Full-text search")`, { path: 'querystring.q' });
  return parsed.fts;
}

/** 400 for a value the store cannot keep exactly (src/core/doc/limits.ts). */
function check(problem: string | null): void {
  if (problem) throw errors.badRequest(problem, { path: problem.slice(0, problem.indexOf(':')) });
}
const pageFields = {
  skip: { type: 'integer', minimum: 0 },
  limit: { type: 'integer', minimum: 1, maximum: 1000 },
} as const;

const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 100;

function int(v: string | undefined, fallback: number): number {
  return v === undefined ? fallback : Number(v);
}

function page(q: { skip?: string | number; limit?: string | number }): { skip: number; limit: number } {
  const limit = Number(q.limit ?? DEFAULT_LIMIT);
  // Bodies are range-checked by their schema; query strings arrive as digits.
  if (limit < 1 || limit > MAX_LIMIT) throw errors.badRequest(`querystring.limit: must be 1..${MAX_LIMIT}`, { path: 'querystring.limit' });
  return { skip: Number(q.skip ?? 0), limit };
}

function json(reply: FastifyReply, body: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(body);
}

/** The rev a write names: the body's, else `If-Match`. */
function revOf(req: FastifyRequest, bodyRev: string | undefined): string | undefined {
  return bodyRev ?? ifMatch(req.headers);
}

export async function documentRoutes(app: FastifyInstance, deps: DocumentRoutesDeps): Promise<void> {
  const { store, commit, maxDocBytes } = deps;
  app.addHook('onRequest', requireSecret(deps.secret));

  const docBodyOf = (req: FastifyRequest, b: { data: Record<string, unknown>; tags?: string[]; content?: string }): DocBody => {
    check(dataProblem(b.data));
    const body = docBody(b);
    // The body limit is a little above maxDocBytes; the doc itself must fit.
    const length = Number(req.headers['content-length'] ?? Number.POSITIVE_INFINITY);
    if (length > maxDocBytes && Buffer.byteLength(JSON.stringify(body)) > maxDocBytes) throw errors.tooLarge(maxDocBytes);
    return body;
  };

  const ownId = (id: string, path: string): string => {
    if (!deps.owns(id)) throw errors.badRequest(`${path}: document ${id} belongs to another shard`, { path });
    return id;
  };

  const send = <B>(reply: FastifyReply, r: WriteResult<B>, stamped: boolean): FastifyReply => {
    reply.status(r.status);
    return reply.send(stamped ? { ...r.body, entries: r.entries } : r.body);
  };

  // ---- databases ---------------------------------------------------------

  app.get('/v1/db', { schema: { querystring: noQuery } }, async (req) => ({ dbs: store.listDbs(readPoint(req, store)) }));

  app.put<{ Params: { db: string } }>('/v1/db/:db', { schema: { params: dbParams, querystring: noQuery } }, async (req, reply) => {
    const { guard, stamped } = writeGuard(req, store);
    return send(reply, await commit.run(() => store.createDb(req.params.db, guard)), stamped);
  });

  app.delete<{ Params: { db: string } }>('/v1/db/:db', { schema: { params: dbParams, querystring: noQuery } }, async (req, reply) => {
    const { guard, stamped } = writeGuard(req, store);
    return send(reply, await commit.run(() => store.deleteDb(req.params.db, guard)), stamped);
  });

  app.get<{ Params: { db: string } }>('/v1/db/:db', { schema: { params: dbParams, querystring: noQuery } }, async (req) => store.dbInfo(req.params.db, readPoint(req, store)));

  // ---- documents ---------------------------------------------------------

  app.post<{ Params: { db: string }; Body: { id?: string; rev?: string; data: Record<string, unknown>; tags?: string[]; content?: string } }>(
    '/v1/db/:db/docs',
    { schema: { params: dbParams, querystring: noQuery, body: docWriteBody } },
    async (req, reply) => {
      const { guard, stamped } = writeGuard(req, store);
      const id = req.body.id === undefined ? deps.newId() : ownId(req.body.id, 'body.id');
      const body = docBodyOf(req, req.body);
      const rev = revOf(req, req.body.rev);
      const r = await commit.run(() => store.putDoc(req.params.db, id, rev, body, guard));
      // A keyed retry answers the first attempt's document, whose id may not be the one made up now.
      reply.header('location', `/v1/db/${req.params.db}/docs/${encodeURIComponent(String(r.body.id ?? id))}`);
      return send(reply, r, stamped);
    },
  );

  app.put<{ Params: { db: string; id: string }; Body: { rev?: string; data: Record<string, unknown>; tags?: string[]; content?: string } }>(
    '/v1/db/:db/docs/:id',
    { schema: { params: docParams, querystring: noQuery, body: docWriteBody } },
    async (req, reply) => {
      const { guard, stamped } = writeGuard(req, store);
      ownId(req.params.id, 'params.id');
      const body = docBodyOf(req, req.body);
      const rev = revOf(req, req.body.rev);
      return send(reply, await commit.run(() => store.putDoc(req.params.db, req.params.id, rev, body, guard)), stamped);
    },
  );

  app.delete<{ Params: { db: string; id: string }; Querystring: { rev?: string } }>(
    '/v1/db/:db/docs/:id',
    { schema: { params: docParams, querystring: revQuery } },
    async (req, reply) => {
      const { guard, stamped } = writeGuard(req, store);
      ownId(req.params.id, 'params.id');
      const rev = revOf(req, req.query.rev);
      if (rev === undefined) throw errors.badRequest('querystring.rev: a delete needs the current rev (?rev= or If-Match)', { path: 'querystring.rev' });
      return send(reply, await commit.run(() => store.deleteDoc(req.params.db, req.params.id, rev, guard)), stamped);
    },
  );

  app.get<{ Params: { db: string; id: string }; Querystring: { rev?: string } }>(
    '/v1/db/:db/docs/:id',
    { schema: { params: docParams, querystring: revQuery } },
    async (req, reply) => {
      const r = store.getDoc(req.params.db, req.params.id, req.query.rev, readPoint(req, store));
      reply.header(SEQ_HEADER, String(r.seq));
      if (r.pendingSeq !== null) reply.header(PENDING_HEADER, String(r.pendingSeq));
      if (r.body !== null) return json(reply, r.body);
      const what = req.query.rev === undefined ? `document ${req.params.id} not found` : `document ${req.params.id} has no kept revision ${req.query.rev}`;
      return reply.status(404).send(errors.notFound(what).toBody());
    },
  );

  app.post<{ Params: { db: string }; Body: { docs: BulkDoc[] } }>(
    '/v1/db/:db/_bulk_docs',
    {
      bodyLimit: maxDocBytes * 16,
      schema: {
        params: dbParams,
        querystring: noQuery,
        body: bulkBody,
      },
    },
    async (req, reply) => {
      const { guard, stamped } = writeGuard(req, store);
      // Docs refused before the store sees them keep their place in the answer.
      const problems = req.body.docs.map((d, i) => bulkDocProblem(d, `body.docs[${i}]`));
      const docs = req.body.docs.map((d, i) => (problems[i] === null ? { ...d, id: d.id ?? deps.newId() } : { ...d, id: typeof d.id === 'string' ? d.id : '' }));
      const refused = docs.map((d, i): BulkItem | null => {
        if (problems[i] !== null) return { id: d.id, error: 'bad_request', reason: problems[i]! };
        if (!deps.owns(d.id)) return { id: d.id, error: 'bad_request', reason: `document ${d.id} belongs to another shard` };
        if (d.deleted === true) return null;
        if (Buffer.byteLength(JSON.stringify(docBody(d))) > maxDocBytes) {
          return { id: d.id, error: 'payload_too_large', reason: errors.tooLarge(maxDocBytes).message };
        }
        return null;
      });
      const r = await commit.run(() => store.bulk(req.params.db, docs.filter((_, i) => refused[i] === null), deps.newId, guard));
      let k = 0;
      const results = refused.map((item) => item ?? r.body.results[k++]!);
      return send(reply, { ...r, body: { ...r.body, results } }, stamped);
    },
  );

  // ---- queries -----------------------------------------------------------

  app.get<{ Params: { db: string }; Querystring: { limit?: string; skip?: string; startAfter?: string; includeDeleted?: string } }>(
    '/v1/db/:db/_all_docs',
    {
      schema: {
        params: dbParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: intQ, skip: intQ, startAfter: { type: 'string', maxLength: 200 }, includeDeleted: { type: 'string', enum: ['true', 'false', '1', '0'] } },
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const p = page(q);
      return json(reply, store.allDocsJson(req.params.db, {
        ...p,
        ...(q.startAfter !== undefined ? { startAfter: q.startAfter } : {}),
        includeDeleted: q.includeDeleted === 'true' || q.includeDeleted === '1',
      }, readPoint(req, store)));
    },
  );

  app.post<{ Params: { db: string }; Body: FieldsQuery & { skip?: number; limit?: number } }>(
    '/v1/db/:db/_find/fields',
    {
      schema: {
        params: dbParams,
        querystring: noQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { equalsMap: { type: 'object' }, numericField: { type: 'string' }, min: { type: 'number' }, max: { type: 'number' }, ...pageFields },
        },
      },
    },
    async (req, reply) => {
      check(jsonProblem(req.body, MAX_BODY_DEPTH));
      return json(reply, store.findFieldsJson(req.params.db, { ...req.body, ...page(req.body ?? {}) }, readPoint(req, store)));
    },
  );

  const tagList = { type: 'array', items: { type: 'string' } } as const;
  app.post<{ Params: { db: string }; Body: TagsQuery & { skip?: number; limit?: number } }>(
    '/v1/db/:db/_find/tags',
    { schema: { params: dbParams, querystring: noQuery, body: { type: 'object', additionalProperties: false, properties: { allOf: tagList, anyOf: tagList, noneOf: tagList, ...pageFields } } } },
    async (req, reply) => json(reply, store.findTagsJson(req.params.db, { ...req.body, ...page(req.body ?? {}) }, readPoint(req, store))),
  );

  app.get<{ Params: { db: string }; Querystring: { q: string; skip?: string; limit?: string } }>(
    '/v1/db/:db/_search',
    { schema: { params: dbParams, querystring: { type: 'object', required: ['q'], additionalProperties: false, properties: { q: { type: 'string', minLength: 1, maxLength: 1000 }, skip: intQ, limit: intQ } } } },
    // Parsed and quoted before FTS5 sees it (src/core/doc/search-query.ts).
    async (req, reply) => json(reply, store.searchJson(req.params.db, searchExpression(req.query.q), page(req.query), readPoint(req, store))),
  );

  app.get<{ Params: { db: string }; Querystring: { since?: string; limit?: string; until?: string } }>(
    '/v1/db/:db/_changes',
    { schema: { params: dbParams, querystring: { type: 'object', additionalProperties: false, properties: { since: intQ, limit: intQ, until: intQ } } } },
    async (req) => {
      const limit = int(req.query.limit, 1000);
      if (limit < 1 || limit > 10000) throw errors.badRequest('querystring.limit: must be 1..10000', { path: 'querystring.limit' });
      const until = req.query.until === undefined ? undefined : Number(req.query.until);
      return store.changes(req.params.db, int(req.query.since, 0), limit, until, readPoint(req, store));
    },
  );
}
