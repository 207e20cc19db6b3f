import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { bulkDocProblem, dataProblem } from '../../src/core/doc/check.ts';
import { jsonProblem, MAX_BODY_DEPTH } from '../../src/core/doc/limits.ts';
import { parseSearch } from '../../src/core/doc/search-query.ts';
import { errors, TesseraError } from '../../src/core/errors.ts';
import { ifMatch, noneMatchHit } from '../../src/core/http/headers.ts';
import type { UserConfig } from '../../src/core/config/index.ts';
import { visibleDbs } from '../../src/core/http/access.ts';
import { IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_PATTERN } from '../../src/core/protocol.ts';
import { installAccess } from './access-hook.ts';
import { readFromShard, type ReadMode } from './reader.ts';
import {
  allDocs, bulkDocs, changes, dbInfo, dbPath, dbWrite, docIdForKey, find, keyHeaders, listDbs, newDocId, search, type BulkDoc, type RouterContext,
} from './scatter.ts';
import { R } from './responses.ts';
import * as S from './schemas.ts';

/** OpenAPI: client routes take a client token when the config has an auth block. */
const TOKEN = [{ clientToken: [] }];
import { writeToShard } from './writer.ts';

// The client API (DESIGN §4) as one fastify plugin. Handlers only translate
// HTTP to the writer/reader/scatter calls; nothing here decides anything.

type DbParams = { db: string };
type DocParams = { db: string; id: string };
type ChangesQs = { since?: string; limit?: string; feed?: 'normal' | 'longpoll'; timeout?: string };

const docPath = (db: string, id: string) => `${dbPath(db)}/docs/${encodeURIComponent(id)}`;

/** A `_search` query the nodes will accept (src/core/doc/search-query.ts), checked once here. */
function checkedSearch(q: string): string {
  const parsed = parseSearch(q);
  if (!parsed.ok) throw errors.badRequest(`querystring.q: ${parsed.error} (see README "Full-text search")`, { path: 'querystring.q' });
  return q;
}

/** 400 when a body holds a number, a depth or a key the store cannot keep exactly (src/core/doc/limits.ts). */
function checked<T>(problem: string | null, value: T): T {
  if (problem) throw errors.badRequest(problem, { path: problem.slice(0, problem.indexOf(':')) });
  return value;
}

/** The client's Idempotency-Key (DESIGN §4), passed on to the primary; 400 when malformed. */
function idempotencyKey(req: FastifyRequest): string | undefined {
  const raw = req.headers[IDEMPOTENCY_HEADER];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(raw)) {
    throw errors.badRequest('headers.idempotency-key: 1 to 200 printable ASCII characters, no spaces', { path: 'headers.idempotency-key' });
  }
  return raw;
}

export function documentRoutes(ctx: RouterContext, bulkBodyLimit: number, users?: ReadonlyArray<UserConfig>): FastifyPluginAsync {
  const deadline = () => ctx.clock.now() + ctx.writeTimeoutMs;
  // What each route needs from a caller's role (src/core/http/access.ts).
  const read = { need: 'read' } as const;
  const write = { need: 'write' } as const;
  const admin = { need: 'admin' } as const;

  return async (app) => {
    installAccess(app, users);
    app.get('/v1/db', { config: read, schema: { summary: 'List databases (union over shards; only those the caller may use)', tags: ['databases'], querystring: S.noQuery, response: R.listDbs, security: TOKEN } }, async (req) => {
      const { dbs } = await listDbs(ctx);
      return { dbs: visibleDbs(req.principal, dbs) };
    });

    app.put<{ Params: DbParams }>('/v1/db/:db', { config: admin, schema: { summary: 'Create a database on every shard', tags: ['databases'], params: S.dbParams, querystring: S.noQuery, response: R.createDb, security: TOKEN } }, async (req, reply) => {
      const r = await dbWrite(ctx, 'PUT', req.params.db, idempotencyKey(req));
      return reply.status(r.status).send(r.body);
    });

    app.delete<{ Params: DbParams }>('/v1/db/:db', { config: admin, schema: { summary: 'Delete a database on every shard', tags: ['databases'], params: S.dbParams, querystring: S.noQuery, response: R.deleteDb, security: TOKEN } }, async (req, reply) => {
      const r = await dbWrite(ctx, 'DELETE', req.params.db, idempotencyKey(req));
      return reply.status(r.status).send(r.body);
    });

    app.get<{ Params: DbParams }>('/v1/db/:db', { config: read, schema: { summary: 'Database info, counts summed over shards', tags: ['databases'], params: S.dbParams, querystring: S.noQuery, response: R.dbInfo, security: TOKEN } }, async (req) => dbInfo(ctx, req.params.db));

    app.post<{ Params: DbParams; Body: Record<string, unknown> }>('/v1/db/:db/docs', {
      config: write,
      schema: { summary: 'Create a document (server id unless the body has one)', tags: ['documents'], params: S.dbParams, querystring: S.noQuery, body: S.postDocBody, response: R.postDoc, security: TOKEN },
    }, async (req, reply) => {
      checked(dataProblem(req.body.data), null);
      const key = idempotencyKey(req);
      const id = typeof req.body.id === 'string' ? req.body.id : key !== undefined ? docIdForKey(key) : newDocId();
      const rt = ctx.shards.forDoc(id);
      reply.header('location', docPath(req.params.db, id));
      try {
        const r = await writeToShard(ctx, rt, { method: 'POST', path: `${dbPath(req.params.db)}/docs`, body: { ...req.body, id }, headers: keyHeaders(key) }, deadline());
        return reply.status(r.status).send(r.body);
      } catch (err) {
        // The id the router chose: a client can look the document up, or PUT to it, to settle the outcome.
        if (err instanceof TesseraError) err.details.id = id;
        throw err;
      }
    });

    app.put<{ Params: DocParams; Body: Record<string, unknown> }>('/v1/db/:db/docs/:id', {
      config: write,
      schema: { summary: 'Create or update a document (rev in body or If-Match)', tags: ['documents'], params: S.docParams, querystring: S.noQuery, body: S.putDocBody, response: R.putDoc, security: TOKEN },
    }, async (req, reply) => {
      checked(dataProblem(req.body.data), null);
      const { db, id } = req.params;
      const match = ifMatch(req.headers);
      const r = await writeToShard(ctx, ctx.shards.forDoc(id), {
        method: 'PUT', path: docPath(db, id), body: req.body, headers: { ...keyHeaders(idempotencyKey(req)), ...(match ? { 'if-match': match } : {}) },
      }, deadline());
      return reply.status(r.status).send(r.body);
    });

    app.get<{ Params: DocParams; Querystring: { read?: ReadMode; rev?: string } }>('/v1/db/:db/docs/:id', {
      config: read,
      schema: { summary: 'Read a document', tags: ['documents'], params: S.docParams, querystring: S.readQuery, response: R.getDoc, security: TOKEN },
    }, async (req, reply) => {
      const { db, id } = req.params;
      const path = req.query.rev ? `${docPath(db, id)}?rev=${encodeURIComponent(req.query.rev)}` : docPath(db, id);
      const r = await readFromShard({ clock: ctx.clock, readQuorum: ctx.readQuorum, allowUnsafeQuorum: ctx.allowUnsafeQuorum === true }, ctx.shards.forDoc(id), path, req.query.read ?? 'primary', deadline());
      const rev = (r.body as { rev?: unknown } | null)?.rev;
      if (typeof rev === 'string') {
        reply.header('etag', `"${rev}"`);
        if (noneMatchHit(req.headers, rev)) return reply.status(304).send();
      }
      return reply.status(r.status).send(r.body);
    });

    app.delete<{ Params: DocParams; Querystring: { rev?: string } }>('/v1/db/:db/docs/:id', {
      config: write,
      schema: { summary: 'Delete a document (writes a tombstone)', tags: ['documents'], params: S.docParams, querystring: S.deleteQuery, response: R.deleteDoc, security: TOKEN },
    }, async (req, reply) => {
      const { db, id } = req.params;
      const rev = req.query.rev ?? ifMatch(req.headers);
      if (!rev) throw errors.badRequest('querystring.rev: a DELETE needs the current rev (?rev= or If-Match)', { path: 'querystring.rev' });
      const r = await writeToShard(ctx, ctx.shards.forDoc(id), { method: 'DELETE', path: `${docPath(db, id)}?rev=${encodeURIComponent(rev)}`, headers: keyHeaders(idempotencyKey(req)) }, deadline());
      return reply.status(r.status).send(r.body);
    });

    app.post<{ Params: DbParams; Body: { docs: BulkDoc[] } }>('/v1/db/:db/_bulk_docs', {
      config: write,
      bodyLimit: bulkBodyLimit,
      schema: { summary: 'Write many documents; one result per doc in request order', tags: ['documents'], params: S.dbParams, querystring: S.noQuery, body: S.bulkBody, response: R.bulk, security: TOKEN },
    }, async (req) => {
      // Each document is checked on its own: a bad one gets its own 400 result, the rest are written.
      const { docs } = req.body;
      const refused = docs.map((d, i) => {
        const why = bulkDocProblem(d, `body.docs[${i}]`);
        return why === null ? null : { id: typeof d.id === 'string' ? d.id : null, error: 'bad_request', reason: why };
      });
      const valid = docs.filter((_, i) => refused[i] === null);
      // No document reaches a shard: the db must still exist (404 otherwise).
      const written = valid.length > 0 ? await bulkDocs(ctx, req.params.db, valid, idempotencyKey(req)) : (await dbInfo(ctx, req.params.db), []);
      let k = 0;
      return refused.map((item) => item ?? written[k++]);
    });

    app.get<{ Params: DbParams; Querystring: { limit?: string; skip?: string; startAfter?: string; includeDeleted?: string } }>('/v1/db/:db/_all_docs', {
      config: read,
      schema: { summary: 'Documents ordered by id across shards, paged by startAfter', tags: ['queries'], params: S.dbParams, querystring: S.allDocsQuery, response: R.allDocs, security: TOKEN },
    }, async (req) => {
      const q = req.query;
      return allDocs(ctx, req.params.db, {
        limit: S.queryInt(q.limit, 'limit', 100, 1, 1000),
        skip: S.queryInt(q.skip, 'skip', 0, 0, 1_000_000),
        ...(q.startAfter !== undefined ? { startAfter: q.startAfter } : {}),
        includeDeleted: S.queryBool(q.includeDeleted),
      });
    });

    app.post<{ Params: DbParams; Body: Record<string, unknown> }>('/v1/db/:db/_find/fields', {
      config: read,
      schema: { summary: 'Find by data fields', tags: ['queries'], params: S.dbParams, querystring: S.noQuery, body: S.findFieldsBody, response: R.find, security: TOKEN },
    }, async (req) => find(ctx, req.params.db, 'fields', checked(jsonProblem(req.body, MAX_BODY_DEPTH), req.body ?? {})));

    app.post<{ Params: DbParams; Body: Record<string, unknown> }>('/v1/db/:db/_find/tags', {
      config: read,
      schema: { summary: 'Find by tags', tags: ['queries'], params: S.dbParams, querystring: S.noQuery, body: S.findTagsBody, response: R.find, security: TOKEN },
    }, async (req) => find(ctx, req.params.db, 'tags', req.body ?? {}));

    app.get<{ Params: DbParams; Querystring: { q: string; skip?: string; limit?: string } }>('/v1/db/:db/_search', {
      config: read,
      schema: { summary: 'Full-text search over content', tags: ['queries'], params: S.dbParams, querystring: S.searchQuery, response: R.search, security: TOKEN },
    }, async (req) => search(ctx, req.params.db, {
      q: checkedSearch(req.query.q), skip: S.queryInt(req.query.skip, 'skip', 0, 0, 1_000_000), limit: S.queryInt(req.query.limit, 'limit', 100, 1, 1000),
    }));

    app.get<{ Params: DbParams; Querystring: ChangesQs }>('/v1/db/:db/_changes', {
      config: read,
      schema: { summary: 'Committed changes since an opaque cursor; feed=longpoll waits for one', tags: ['queries'], params: S.dbParams, querystring: S.changesQuery, response: R.changes, security: TOKEN },
    }, async (req: FastifyRequest<{ Params: DbParams; Querystring: ChangesQs }>, reply: FastifyReply) => {
      const q = req.query;
      return changes(ctx, req.params.db, {
        ...(q.since !== undefined ? { since: q.since } : {}),
        limit: S.queryInt(q.limit, 'limit', 100, 1, 1000),
        feed: q.feed ?? 'normal',
        timeoutMs: S.queryInt(q.timeout, 'timeout', 30_000, 0, 60_000),
      }, () => reply.raw.destroyed || req.raw.destroyed);
    });
  };
}
