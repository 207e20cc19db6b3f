import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { FastifyPluginAsync } from 'fastify';
import { dbParams, docFields, docId } from '../../src/core/doc/schema.ts';
import { fromBody, TesseraError } from '../../src/core/errors.ts';
import { bearerChecker } from '../../src/core/http/auth.ts';
import { REPLICATION_PREFIX, type Doc } from '../../src/core/protocol.ts';
import type { ShardRuntime } from '../replication/shard-runtime.ts';
import { dbInfo, dbPath, dbWrite, listDbs, type RouterContext } from './scatter.ts';
import { R } from './responses.ts';
import { noQuery, shardParams } from './schemas.ts';
import { noPrimary, writeToShard } from './writer.ts';

// Backup and restore (README "Backup and restore"; router/DESIGN.md "Backup"),
// behind the cluster secret like every endpoint that reads or writes below
// the client API:
//  GET  /v1/_backup                       what a backup or a restore checks first
//  GET  /v1/_backup/shards/{id}/snapshot  a shard's snapshot at a committed seq (NDJSON)
//  PUT  /v1/_backup/db/{db}               creates a db on every shard (restore)
//  POST /v1/_backup/db/{db}/docs          writes documents with their revs (restore)

export interface BackupRouteOptions {
  secret: string;
  /** Largest restore body (a batch of documents at the size limit). */
  bodyLimit: number;
  /** How long a snapshot's end line may wait for the commit point to reach its seq. */
  commitWaitMs: number;
}

const RESTORE_MAX_DOCS = 1000;
/** A snapshot of a large shard may stream for minutes; a stalled one ends here. */
const SNAPSHOT_TIMEOUT_MS = 30 * 60_000;

const restoreBody = {
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

type EndLine = { type: 'end'; seq: number; term: number; docs: number; dbs: number };

export function backupRoutes(ctx: RouterContext, o: BackupRouteOptions): FastifyPluginAsync {
  const authorized = bearerChecker(o.secret);
  const security = [{ clusterSecret: [] }];
  return async (app) => {
    // Before validation: an unauthenticated caller learns nothing about the body rules.
    app.addHook('onRequest', async (req) => {
      if (!authorized(req.headers.authorization)) throw new TesseraError('unauthorized');
    });

    app.get('/v1/_backup', { schema: { summary: 'Shard count, databases and document count (backup progress, restore\'s empty-target check)', tags: ['backup'], security, querystring: noQuery, response: R.backupInfo } }, async () => {
      const { dbs } = await listDbs(ctx);
      const infos = await Promise.all(dbs.map((db) => dbInfo(ctx, db)));
      return { shards: ctx.shards.count, dbs, docs: infos.reduce((n, i) => n + i.docCount + i.deletedCount, 0) };
    });

    app.get<{ Params: { id: string } }>('/v1/_backup/shards/:id/snapshot', {
      schema: { summary: 'Every db and document of one shard at one committed seq (NDJSON, `end` line last)', tags: ['backup'], security, params: shardParams, querystring: noQuery, response: R.backupSnapshot },
    }, async (req, reply) => {
      const rt = ctx.shards.list[Number(req.params.id)];
      if (!rt) throw new TesseraError('not_found', `No shard ${req.params.id}`);
      const source = await openSnapshot(rt, ctx.clock.now() + o.commitWaitMs);
      return reply.type('application/x-ndjson').send(Readable.from(committedLines(ctx, rt, source, o.commitWaitMs)));
    });

    app.put<{ Params: { db: string } }>('/v1/_backup/db/:db', {
      schema: { summary: 'Create a database on every shard (restore)', tags: ['backup'], security, params: dbParams, querystring: noQuery, response: R.backupDb },
    }, async (req, reply) => {
      const r = await dbWrite(ctx, 'PUT', req.params.db);
      return reply.status(r.status).send(r.body);
    });

    app.post<{ Params: { db: string }; Body: { docs: Doc[] } }>('/v1/_backup/db/:db/docs', {
      bodyLimit: o.bodyLimit,
      schema: { summary: 'Write documents as they were, revs kept (restore); one result per document in order', tags: ['backup'], security, params: dbParams, querystring: noQuery, body: restoreBody, response: R.backupDocs },
    }, async (req) => restoreDocs(ctx, req.params.db, req.body.docs));
  };
}

interface SnapshotSource {
  body: AsyncIterable<Buffer> & { destroy(err?: Error): void };
  term: number;
  primaryId: string;
}

/** Starts the primary's snapshot stream, noting the (term, primary) it comes from. */
async function openSnapshot(rt: ShardRuntime, untilMs: number): Promise<SnapshotSource> {
  let primary = rt.primary();
  if (!primary) {
    await rt.refresh(1000);
    primary = rt.primary();
  }
  if (!primary) throw noPrimary(rt.shardId);
  const term = rt.view.term;
  let res;
  try {
    res = await primary.client.pool.request({
      method: 'GET', path: `${REPLICATION_PREFIX}/snapshot`, headers: { authorization: primary.client.authorization },
      signal: AbortSignal.any([rt.viewSignal, AbortSignal.timeout(SNAPSHOT_TIMEOUT_MS)]),
      headersTimeout: Math.max(1000, untilMs - Date.now()), bodyTimeout: SNAPSHOT_TIMEOUT_MS,
    });
  } catch {
    throw noPrimary(rt.shardId, `The primary of shard ${rt.shardId} did not start its snapshot`);
  }
  if (res.statusCode !== 200) {
    const text = await res.body.text();
    let body: unknown = null;
    try { body = JSON.parse(text); } catch { /* shown as internal below */ }
    throw fromBody(body, res.statusCode);
  }
  return { body: res.body as unknown as SnapshotSource['body'], term, primaryId: primary.id };
}

/**
 * The primary's lines as they come, except the `end` line: a node's snapshot
 * is one consistent seq of its own log, which may hold entries no quorum has
 * yet. The end line is released only once this router's commit point, in the
 * same term and with the same primary as when the stream started, covers its
 * seq — then every entry up to it is committed and can never be rolled back,
 * so the snapshot is the committed state at that seq. Otherwise (the view
 * moved, or no quorum in time) the stream ends with an `error` line instead:
 * a reader must refuse a stream without its end line.
 */
async function* committedLines(ctx: RouterContext, rt: ShardRuntime, src: SnapshotSource, commitWaitMs: number): AsyncGenerator<string> {
  let end: EndLine | null = null;
  let rest = '';
  // A chunk may end inside a multi-byte character: the decoder holds it for the next one.
  const decoder = new StringDecoder('utf8');
  try {
    try {
      for await (const chunk of src.body) {
        const text = rest + decoder.write(chunk);
        const lines = text.split('\n');
        rest = lines.pop()!;
        let out = '';
        for (const line of lines) {
          if (line.startsWith('{"type":"end"')) end = JSON.parse(line) as EndLine;
          // Idempotency-Key records belong to this cluster's clients' retries, not to a backup.
          else if (line.startsWith('{"type":"idem"')) continue;
          else if (line.length > 0) out += `${line}\n`;
        }
        if (out) yield out;
      }
    } catch (err) {
      yield errorLine('unavailable', `the snapshot stream from the primary of shard ${rt.shardId} broke: ${(err as Error).message}`);
      return;
    }
    if (rest.startsWith('{"type":"end"')) end = JSON.parse(rest) as EndLine;
    if (!end) {
      yield errorLine('unavailable', `the primary of shard ${rt.shardId} ended its snapshot without an end line`);
      return;
    }
    const verdict = await waitCommitted(ctx, rt, src, end.seq, ctx.clock.now() + commitWaitMs);
    if (verdict !== null) {
      yield errorLine('quorum_not_met', verdict);
      return;
    }
    yield `${JSON.stringify({ ...end, shard: rt.shardId, primaryId: src.primaryId, viewTerm: src.term, commitSeq: rt.commitSeq, committed: true })}\n`;
  } finally {
    src.body.destroy();
  }
}

/** null once seq is committed under the stream's (term, primary); else why not. */
async function waitCommitted(ctx: RouterContext, rt: ShardRuntime, src: SnapshotSource, seq: number, untilMs: number): Promise<string | null> {
  for (;;) {
    if (rt.view.term !== src.term || rt.view.primaryId !== src.primaryId) {
      return `shard ${rt.shardId} changed primary during the snapshot (term ${src.term} → ${rt.view.term}); take it again`;
    }
    if (rt.commitSeq >= seq) return null;
    const now = ctx.clock.now();
    if (now >= untilMs || ctx.closing) return `shard ${rt.shardId}: seq ${seq} not committed in time (commit point ${rt.commitSeq}); take it again`;
    // Commit advances wake this at once; the short cap notices a view change.
    await rt.waitForCommitChange(Math.min(untilMs, now + 100));
  }
}

function errorLine(code: string, message: string): string {
  return `${JSON.stringify({ type: 'error', error: code, message })}\n`;
}

type RestoreItem = { ok: true; id: string; rev: string; seq?: number } | { id: string; error: string; reason: string; outcome?: unknown };

/**
 * Documents placed by the hash of this cluster (its shard count may differ
 * from the backed-up one), one restore write per shard, answered in request
 * order; a shard that failed marks each of its documents with its error.
 */
async function restoreDocs(ctx: RouterContext, db: string, docs: Doc[]): Promise<RestoreItem[]> {
  const until = ctx.clock.now() + ctx.writeTimeoutMs;
  const groups = new Map<ShardRuntime, number[]>();
  docs.forEach((d, i) => {
    const rt = ctx.shards.forDoc(d.id);
    const g = groups.get(rt);
    if (g) g.push(i);
    else groups.set(rt, [i]);
  });
  const out = new Array<RestoreItem>(docs.length);
  await Promise.all([...groups].map(async ([rt, idx]) => {
    try {
      const res = await writeToShard(ctx, rt, { method: 'POST', path: `${dbPath(db)}/_restore`, body: { docs: idx.map((i) => docs[i]) } }, until);
      const results = (res.body as { results?: RestoreItem[] }).results;
      if (!Array.isArray(results) || results.length !== idx.length) throw new TesseraError('internal', `shard ${rt.shardId} answered ${results?.length ?? 'no'} results for ${idx.length} docs`);
      idx.forEach((docIndex, k) => { out[docIndex] = results[k]!; });
    } catch (err) {
      const e = err instanceof TesseraError ? err : new TesseraError('internal', (err as Error).message);
      for (const i of idx) out[i] = { id: docs[i]!.id, error: e.code, reason: e.message, ...(e.details.outcome ? { outcome: e.details.outcome } : {}) };
    }
  }));
  return out;
}
