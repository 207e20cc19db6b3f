import { docFields, docId, rev } from '../../src/core/doc/schema.ts';
import type { ErrorCode } from '../../src/core/errors.ts';

// Response schemas of every client and operator route, for the OpenAPI
// document (/docs/json) and for the fuzz test that checks each answer
// against them. Built from the request schemas of src/core/doc/schema.ts, so
// a document is described once. They document; they do not serialise: the
// router answers with JSON.stringify (app.ts), so a field the schema does
// not name is never dropped on the way out.

/** The one error shape (DESIGN §4), with the codes a status may carry. */
export function errorBody(codes: readonly ErrorCode[], description: string) {
  return {
    description,
    type: 'object',
    required: ['ok', 'error', 'message'],
    properties: {
      ok: { type: 'boolean', enum: [false] },
      error: { type: 'string', enum: [...codes] },
      message: { type: 'string' },
      path: { type: 'string', description: 'Where the input was wrong (bad_request)' },
      unknown: { type: 'array', items: { type: 'string' }, description: 'Unknown fields or parameters (bad_request)' },
      outcome: { type: 'string', enum: ['not_applied', 'indeterminate', 'partial'], description: 'What a 503 says about the write' },
      acks: { type: 'integer' },
      required: { type: 'integer' },
      shard: { type: 'integer' },
      shards: { type: 'array', items: { type: 'object' }, description: 'Per-shard results of a partial db create/delete' },
    },
  } as const;
}

const E = {
  400: errorBody(['bad_request'], 'Malformed input: the message and `path` say where'),
  401: errorBody(['unauthorized'], 'No known token (or cluster secret) in Authorization: Bearer'),
  403: errorBody(['forbidden'], 'The token\'s role or databases do not allow this request'),
  404: errorBody(['not_found'], 'No such database, document or shard'),
  409: errorBody(['conflict'], 'The rev is not the document\'s current rev'),
  413: errorBody(['payload_too_large'], 'A document over limits.maxDocBytes, or a body over the limit'),
  415: errorBody(['unsupported_media_type'], 'The body is not application/json'),
  422: errorBody(['idempotency_key_reused'], 'The Idempotency-Key was used for a different request'),
  503: errorBody(['no_primary', 'quorum_not_met', 'unavailable'], 'No primary, quorum not met in time, or no copy answered; Retry-After is set'),
} as const;

type Status = keyof typeof E;
const errs = (...statuses: Status[]) => Object.fromEntries(statuses.map((s) => [s, E[s]]));

const doc = {
  type: 'object',
  required: ['id', 'rev', 'data'],
  properties: { id: docId, rev, deleted: { type: 'boolean', enum: [true] }, data: docFields.data, tags: docFields.tags, content: docFields.content },
} as const;

/** A write's answer: the stored document (or `{ok,id,rev}` for a delete), with where and how durable it is. */
const written = (base: Record<string, unknown>, description: string) => ({
  ...base,
  description,
  properties: {
    ...(base.properties as Record<string, unknown>),
    seq: { type: 'integer', description: 'Log seq of the write in its shard' },
    shard: { type: 'integer' },
    acks: { type: 'integer', description: 'Copies durable when answered' },
  },
});

const page = (items: unknown, extra: Record<string, unknown> = {}) => ({
  type: 'object', required: ['total', 'items'], properties: { total: { type: 'integer' }, items: { type: 'array', items }, ...extra },
});

const dbOk = { type: 'object', required: ['ok', 'db'], properties: { ok: { type: 'boolean', enum: [true] }, db: { type: 'string' } } } as const;
const bulkItem = {
  anyOf: [
    { type: 'object', required: ['ok', 'id', 'rev'], properties: { ok: { type: 'boolean', enum: [true] }, id: { type: 'string' }, rev: { type: 'string' }, seq: { type: 'integer' } } },
    { type: 'object', required: ['id', 'error', 'reason'], properties: { id: { type: ['string', 'null'] }, error: { type: 'string' }, reason: { type: 'string' }, outcome: { type: 'string' } } },
  ],
} as const;

// Any request may carry a body, whatever the route: a malformed (400), oversized
// (413) or non-JSON (415) one is refused before the route runs.
const anyRoute = (...more: Status[]) => errs(400, 413, 415, ...more);
// Every client route may answer 401/403 (with an auth block) too.
const client = (...more: Status[]) => anyRoute(401, 403, ...more);

export const R = {
  listDbs: { 200: { description: 'Databases the caller may use', type: 'object', required: ['dbs'], properties: { dbs: { type: 'array', items: { type: 'string' } } } }, ...client(503) },
  createDb: { 201: { ...dbOk, description: 'Created on every shard' }, 200: { ...dbOk, description: 'Existed already' }, ...client(503, 422) },
  deleteDb: { 200: { ...dbOk, description: 'Deleted on every shard' }, ...client(404, 503, 422) },
  dbInfo: {
    200: { description: 'Counts summed over shards', type: 'object', required: ['db', 'docCount', 'deletedCount', 'seq'], properties: { db: { type: 'string' }, docCount: { type: 'integer' }, deletedCount: { type: 'integer' }, seq: { type: 'integer' } } },
    ...client(404, 503),
  },
  postDoc: { 201: written(doc, 'Created; Location names it'), 200: written(doc, 'Updated (the body named an existing id and its rev)'), ...client(404, 409, 413, 415, 503, 422) },
  putDoc: { 201: written(doc, 'Created'), 200: written(doc, 'Updated'), ...client(404, 409, 413, 415, 503, 422) },
  getDoc: { 200: { ...doc, description: 'The document; ETag: "<rev>"' }, 304: { description: 'If-None-Match named the current rev; no body', type: 'null' }, ...client(404, 503) },
  deleteDoc: {
    200: written({ type: 'object', required: ['ok', 'id', 'rev'], properties: { ok: { type: 'boolean', enum: [true] }, id: { type: 'string' }, rev } }, 'Deleted: the tombstone\'s rev'),
    ...client(404, 409, 503, 422),
  },
  bulk: { 200: { description: 'One result per document, in request order', type: 'array', items: bulkItem }, ...client(404, 413, 415, 503, 422) },
  allDocs: { 200: { ...page(doc, { next: { type: ['string', 'null'] } }), description: 'Documents in id order; next is the startAfter of the next page' }, ...client(404, 503) },
  find: { 200: { ...page(doc), description: 'Matching documents, merged by id' }, ...client(404, 415, 503) },
  search: { 200: { ...page(doc), description: 'Documents whose content matches, merged by id' }, ...client(404, 503) },
  changes: {
    200: {
      description: 'Committed changes after the cursor; last is the next cursor', type: 'object', required: ['results', 'last'],
      properties: { results: { type: 'array', items: { type: 'object', required: ['id', 'rev'], properties: { id: { type: 'string' }, rev: { type: 'string' }, deleted: { type: 'boolean' }, seq: { type: 'integer' } } } }, last: { type: 'string' } },
    },
    ...client(404, 503),
  },
  healthz: { 200: { description: 'The process is up', type: 'object', required: ['ok'], properties: { ok: { type: 'boolean', enum: [true] } } }, ...anyRoute() },
  readyz: {
    200: { description: 'Every shard has a primary and a reachable write quorum', type: 'object', required: ['ready'], properties: { ready: { type: 'boolean', enum: [true] } } },
    503: { description: 'Not ready, and why', type: 'object', required: ['ready', 'reason'], properties: { ready: { type: 'boolean', enum: [false] }, reason: { type: 'string' } } },
    ...anyRoute(),
  },
  cluster: { 200: { description: 'Shards and their nodes', type: 'object', required: ['shards'], properties: { shards: { type: 'array', items: { type: 'object' } } } }, ...anyRoute() },
  failover: {
    200: { description: 'Switched', type: 'object', required: ['shard', 'primary', 'term'], properties: { shard: { type: 'integer' }, primary: { type: 'string' }, term: { type: 'integer' } } },
    ...anyRoute(401, 403, 404),
    409: errorBody(['conflict'], 'The target cannot catch up, or is unreachable'),
    503: errorBody(['unavailable', 'no_primary'], 'Failover is not running here, or no primary'),
  },
  verify: {
    200: { description: 'The anti-entropy report (router/VERIFY.md)', type: 'object', required: ['shard', 'consistent'], properties: { shard: { type: 'integer' }, consistent: { type: 'boolean' }, complete: { type: 'boolean' }, divergent: { type: 'array', items: { type: 'object' } } } },
    ...anyRoute(401, 403, 404, 503),
  },
  repair: {
    200: { description: 'The report before, the repairs made, the report after', type: 'object', required: ['shard', 'before', 'repairs', 'after'], properties: { shard: { type: 'integer' }, before: { type: 'object' }, repairs: { type: 'array', items: { type: 'object' } }, after: { type: 'object' } } },
    ...anyRoute(401, 403, 404, 503),
  },
  backupInfo: {
    200: { description: 'What a backup will read, or a restore target holds', type: 'object', required: ['shards', 'dbs', 'docs'], properties: { shards: { type: 'integer' }, dbs: { type: 'array', items: { type: 'string' } }, docs: { type: 'integer' } } },
    ...anyRoute(401, 503),
  },
  backupSnapshot: {
    200: { description: 'NDJSON: one db or doc per line, the end line last (a stream cut short ends with an error line and no end)', content: { 'application/x-ndjson': { schema: { type: 'string' } } } },
    ...anyRoute(401, 404, 503),
  },
  backupDb: { 201: { ...dbOk, description: 'Created on every shard' }, 200: { ...dbOk, description: 'Existed already' }, ...anyRoute(401, 503) },
  backupDocs: { 200: { description: 'One result per document, in request order', type: 'array', items: bulkItem }, ...anyRoute(401, 404, 503) },
} as const;
