import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { POSITIVE_UINT_PATTERN, UINT_PATTERN } from '../../src/core/doc/names.ts';
import { MAX_SEQ, MAX_TERM, termStepError } from '../../src/core/bounds.ts';
import { errors } from '../../src/core/errors.ts';
import type { JoinRequest, PromoteRequest, ReplicateRequest, SnapshotLine, VoteRequest } from '../../src/core/protocol.ts';
import type { Store } from '../store/index.ts';
import { requireSecret } from './auth-hook.ts';
import { checkCommitHeader } from './router-headers.ts';

// `/v1/_replication/*` (DESIGN §5.2). Each call runs in its own transaction,
// outside group commit: a term or vote must be durable before its answer,
// and a refused batch must still persist the term it adopted.

export interface ReplicationRoutesDeps {
  store: Store;
  secret: string;
  /** Whether a document id belongs to this node's shard (entries of another shard are refused). */
  owns: (id: string) => boolean;
  /** Upper bound for a replicate batch body. */
  maxBatchBytes: number;
}

// Bounded (src/core/bounds.ts): no request can move a node to a term or seq
// the next step cannot exceed. Bodies are not closed to unknown fields: the
// replication bodies may grow (DESIGN §5.2), and an older node must keep
// taking a newer router's batches.
const seqN = { type: 'integer', minimum: 0, maximum: MAX_SEQ } as const;
const termN = { type: 'integer', minimum: 0, maximum: MAX_TERM } as const;
const termP = { type: 'integer', minimum: 1, maximum: MAX_TERM } as const;

const entrySchema = {
  type: 'object',
  required: ['seq', 'term', 'op', 'db', 'id', 'rev', 'doc', 'ts'],
  properties: {
    seq: { type: 'integer', minimum: 1, maximum: MAX_SEQ },
    term: termN,
    op: { type: 'string', enum: ['put', 'db_create', 'db_delete', 'noop', 'repair'] },
    db: { type: 'string' },
    id: { type: 'string' },
    rev: { type: 'string' },
    doc: {
      anyOf: [
        { type: 'null' },
        { type: 'object', required: ['id', 'rev', 'data'], properties: { id: { type: 'string' }, rev: { type: 'string' }, data: { type: 'object' } } },
        // A repair entry's RepairImage (protocol.ts).
        { type: 'object', required: ['doc', 'seq', 'parentRev', 'created'], properties: { seq: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 1 }] }, created: { type: 'boolean' } } },
      ],
    },
    ts: { type: 'number' },
    // An Idempotency-Key record on the last entry of a keyed write (protocol.ts IdempotencyRecord).
    idem: {
      type: 'object', required: ['key', 'fingerprint', 'status', 'body'],
      properties: { key: { type: 'string', minLength: 1, maxLength: 200 }, fingerprint: { type: 'string' }, status: { type: 'integer' }, body: { type: 'string' } },
    },
  },
} as const;

/** 400 when a request would jump the node's term by more than MAX_TERM_STEP. */
function checkTermStep(store: Store, term: number, path: string): void {
  const why = termStepError(store.meta().term, term);
  if (why) throw errors.badRequest(`${path}: ${why}`, { path });
}

export async function replicationRoutes(app: FastifyInstance, deps: ReplicationRoutesDeps): Promise<void> {
  const { store } = deps;
  app.addHook('onRequest', requireSecret(deps.secret));
  // A snapshot install arrives as a stream; parse it line by line in the handler.
  const passThrough = (_req: unknown, payload: NodeJS.ReadableStream, done: (err: Error | null, body?: unknown) => void) => done(null, payload);
  app.addContentTypeParser('application/x-ndjson', passThrough);

  app.get('/state', async (req) => {
    checkCommitHeader(req, store);
    return store.state();
  });

  app.post<{ Body: ReplicateRequest }>('/replicate', {
    bodyLimit: deps.maxBatchBytes,
    schema: {
      body: {
        type: 'object',
        required: ['term', 'primaryId', 'commitSeq', 'prevSeq', 'prevTerm', 'entries'],
        properties: {
          term: termP,
          primaryId: { type: 'string', minLength: 1 },
          commitSeq: seqN,
          prevSeq: seqN,
          prevTerm: termN,
          truncate: { type: 'boolean' },
          primaryLastSeq: seqN,
          // How long ago the router last heard from the primary (leader stickiness, src/rules/vote.ts).
          primaryHeardMsAgo: { type: 'integer', minimum: 0, maximum: MAX_SEQ },
          entries: { type: 'array', items: entrySchema },
        },
      },
    },
  }, async (req) => {
    checkTermStep(store, req.body.term, 'body.term');
    const i = req.body.entries.findIndex((e) => e.op === 'put' && !deps.owns(e.id));
    if (i >= 0) throw errors.badRequest(`body.entries[${i}].id: document ${req.body.entries[i]!.id} belongs to another shard`, { path: `body.entries[${i}].id` });
    return store.replicate(req.body);
  });

  app.post<{ Body: VoteRequest }>('/vote', {
    schema: {
      body: {
        type: 'object',
        required: ['term', 'candidateId', 'lastTerm', 'lastSeq'],
        properties: { term: termP, candidateId: { type: 'string', minLength: 1 }, lastTerm: termN, lastSeq: seqN, force: { type: 'boolean' } },
      },
    },
  }, async (req) => {
    checkTermStep(store, req.body.term, 'body.term');
    return store.vote(req.body);
  });

  // A router joins a fresh data dir to the shard at the term it read from a majority of the others.
  app.post<{ Body: JoinRequest }>('/join', {
    schema: {
      body: {
        type: 'object',
        required: ['term', 'role', 'primaryId'],
        additionalProperties: false,
        properties: { term: termP, role: { type: 'string', enum: ['primary', 'replica'] }, primaryId: { anyOf: [{ type: 'null' }, { type: 'string', minLength: 1 }] } },
      },
    },
  }, async (req) => {
    checkTermStep(store, req.body.term, 'body.term');
    return store.join(req.body);
  });

  app.post<{ Body: PromoteRequest }>('/promote', {
    schema: { body: { type: 'object', required: ['term'], properties: { term: termP } } },
  }, async (req) => store.promote(req.body));

  app.get<{ Querystring: { since?: string; limit?: string; meta?: string } }>('/wal', {
    schema: {
      querystring: {
        type: 'object',
        properties: { since: { type: 'string', pattern: UINT_PATTERN }, limit: { type: 'string', pattern: UINT_PATTERN }, meta: { type: 'string', enum: ['0', '1', 'true', 'false'] } },
      },
    },
  }, async (req, reply) => {
    const limit = req.query.limit === undefined ? 1000 : Number(req.query.limit);
    if (limit < 1 || limit > 10000) throw errors.badRequest('querystring.limit: must be 1..10000', { path: 'querystring.limit' });
    if (Number(req.query.since ?? 0) > MAX_SEQ) throw errors.badRequest(`querystring.since: must be at most ${MAX_SEQ}`, { path: 'querystring.since' });
    const metaOnly = req.query.meta === '1' || req.query.meta === 'true';
    return reply.type('application/json; charset=utf-8').send(store.walJson(Number(req.query.since ?? 0), limit, metaOnly));
  });

  app.get('/snapshot', async (_req, reply) => {
    return reply.type('application/x-ndjson').send(Readable.from(store.snapshotLines()));
  });

  app.post<{ Querystring: { term: string; primaryId: string; ifLastSeq?: string; ifLastTerm?: string } }>('/snapshot', {
    schema: {
      querystring: {
        type: 'object',
        required: ['term', 'primaryId'],
        properties: {
          term: { type: 'string', pattern: POSITIVE_UINT_PATTERN },
          primaryId: { type: 'string', minLength: 1 },
          // Where the router found this copy's log: the install goes ahead only if it is still there.
          ifLastSeq: { type: 'string', pattern: UINT_PATTERN },
          ifLastTerm: { type: 'string', pattern: UINT_PATTERN },
        },
      },
    },
  }, async (req) => {
    const q = req.query;
    const term = Number(q.term);
    if (term > MAX_TERM) throw errors.badRequest(`querystring.term: must be at most ${MAX_TERM}`, { path: 'querystring.term' });
    checkTermStep(store, term, 'querystring.term');
    const expect = q.ifLastSeq !== undefined && q.ifLastTerm !== undefined ? { lastSeq: Number(q.ifLastSeq), lastTerm: Number(q.ifLastTerm) } : undefined;
    store.beginSnapshot(term, expect);
    try {
      await stageSnapshot(req.body as NodeJS.ReadableStream | undefined, (chunk) => store.stageSnapshot(chunk));
      return store.commitSnapshot(Number(q.term), q.primaryId, expect);
    } catch (err) {
      store.abortSnapshot();
      // Ends the 'installing snapshot' line; the node is unchanged.
      req.log.warn({ err: (err as Error).message }, 'snapshot install abandoned');
      throw err;
    }
  });
}

const STAGE_CHUNK_LINES = 1000;

/**
 * Parses an NDJSON snapshot stream and hands it on in chunks, so memory stays
 * bounded; anything malformed refuses the whole install.
 */
async function stageSnapshot(body: NodeJS.ReadableStream | undefined, stage: (chunk: SnapshotLine[]) => void): Promise<void> {
  if (!body || typeof (body as Readable).pipe !== 'function') throw errors.badRequest('body: expected an application/x-ndjson snapshot stream');
  let chunk: SnapshotLine[] = [];
  let n = 0;
  for await (const text of createInterface({ input: body as Readable, crlfDelay: Infinity })) {
    n++;
    if (text.trim() === '') continue;
    let line: unknown;
    try {
      line = JSON.parse(text);
    } catch {
      throw errors.badRequest(`body line ${n}: not JSON`);
    }
    if (!isSnapshotLine(line)) throw errors.badRequest(`body line ${n}: not a snapshot line`);
    chunk.push(line);
    if (chunk.length >= STAGE_CHUNK_LINES) {
      stage(chunk);
      chunk = [];
    }
  }
  stage(chunk);
}

function isSnapshotLine(l: unknown): l is SnapshotLine {
  if (l === null || typeof l !== 'object') return false;
  const x = l as Record<string, unknown>;
  switch (x.type) {
    case 'db': return typeof x.name === 'string';
    case 'doc': {
      const d = x.doc as Record<string, unknown> | null;
      return typeof x.db === 'string' && Number.isInteger(x.seq) && d !== null && typeof d === 'object'
        && typeof d.id === 'string' && typeof d.rev === 'string' && d.data !== null && typeof d.data === 'object';
    }
    case 'idem': return typeof x.key === 'string' && Number.isInteger(x.seq) && typeof x.fingerprint === 'string'
      && Number.isInteger(x.status) && (typeof x.body === 'string' || x.body === null) && Number.isInteger(x.ts);
    case 'end': return Number.isInteger(x.seq) && Number.isInteger(x.term);
    default: return false;
  }
}
