import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../src/core/clock.ts';
import { fromBody, TesseraError } from '../../src/core/errors.ts';
import type { RouterMetrics } from '../../src/core/metrics.ts';
import { IDEMPOTENCY_HEADER } from '../../src/core/protocol.ts';
import { decodeCursor, encodeCursor } from './changes-cursor.ts';
import { mergeAllDocs, mergeChanges, mergeFound, sumDbInfo, unionDbs, type Change, type IdItem, type ShardPage } from './merge.ts';
import { readPrimary } from './reader.ts';
import type { ShardRuntime } from '../replication/shard-runtime.ts';
import type { Failover } from '../failover/wiring.ts';
import type { Shards } from '../replication/shards.ts';
import { writeToShard, type WriteResult } from './writer.ts';

// Requests that span shards: fan out to every shard's primary, merge with the
// pure functions of merge.ts. A scatter read needs every shard: one shard
// without a primary fails the whole read with its 503.

export interface RouterContext {
  shards: Shards;
  clock: Clock;
  writeTimeoutMs: number;
  readQuorum: number;
  /** replication.allowUnsafeQuorum (read=quorum with R + W <= N is then served). */
  allowUnsafeQuorum?: boolean;
  metrics?: RouterMetrics;
  /** Set when the server starts closing: long polls answer at once. */
  closing?: boolean;
  /** Elections and switchovers; absent in component tests that fake the nodes. */
  failover?: Failover;
}

/** Largest page a node serves in one request (DESIGN §4 limit maximum). */
export const NODE_PAGE_MAX = 1000;

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random 20-char [A-Za-z0-9] id (~119 bits): generated here so the router can route POSTs. */
export function newDocId(): string {
  const bytes = randomBytes(40);
  let id = '';
  for (const b of bytes) {
    if (b >= 248) continue; // 248 = 62 * 4: keeps the choice uniform
    id += ID_ALPHABET[b % 62];
    if (id.length === 20) return id;
  }
  return id + newDocId().slice(id.length);
}

/**
 * The id a keyed POST (Idempotency-Key, no id in the body) creates: derived
 * from the key, so a retry through any router names the same document and
 * the primary recognises it (a fresh random id would make it a new write).
 */
export function docIdForKey(key: string): string {
  const digest = createHash('sha256').update(`tessera-post-id\n${key}`).digest();
  let id = '';
  for (let i = 0; id.length < 20; i++) id += ID_ALPHABET[digest[i % digest.length]! % 62];
  return id;
}

export const dbPath = (db: string) => `/v1/db/${encodeURIComponent(db)}`;

function deadline(ctx: RouterContext): number {
  return ctx.clock.now() + ctx.writeTimeoutMs;
}

/**
 * The primary's committed answer for a read on one shard; a 4xx/5xx becomes
 * a TesseraError. Scatter reads are committed as of this router's commit
 * point (read-your-writes through this router), not linearizable: they span
 * documents, and DESIGN §6 promises linearizability per document.
 */
async function get<T>(ctx: RouterContext, rt: ShardRuntime, path: string, until: number): Promise<T> {
  const a = await readPrimary({ clock: ctx.clock, readQuorum: ctx.readQuorum }, rt, { path }, until, { linearizable: false });
  if (a.status >= 400) throw fromBody(a.body, a.status);
  return a.body as T;
}

/** A read-only POST (the _find queries) to the shard's primary. */
async function post<T>(ctx: RouterContext, rt: ShardRuntime, path: string, body: unknown, until: number): Promise<T> {
  const a = await readPrimary({ clock: ctx.clock, readQuorum: ctx.readQuorum }, rt, { path, method: 'POST', body }, until, { linearizable: false });
  if (a.status >= 400) throw fromBody(a.body, a.status);
  return a.body as T;
}

/** `GET /v1/db`: the union of every shard's databases. */
export async function listDbs(ctx: RouterContext): Promise<{ dbs: string[] }> {
  const until = deadline(ctx);
  const lists = await Promise.all(ctx.shards.list.map((rt) => get<{ dbs: string[] }>(ctx, rt, '/v1/db', until)));
  return { dbs: unionDbs(lists.map((l) => l.dbs)) };
}

/** `GET /v1/db/{db}`: counts summed; 404 only when no shard has the db. */
export async function dbInfo(ctx: RouterContext, db: string) {
  const until = deadline(ctx);
  const answers = await Promise.all(ctx.shards.list.map((rt) => readPrimary({ clock: ctx.clock, readQuorum: ctx.readQuorum }, rt, { path: dbPath(db) }, until, { linearizable: false })));
  const found = answers.filter((a) => a.status === 200).map((a) => a.body as { docCount: number; deletedCount: number; seq: number });
  const failed = answers.find((a) => a.status >= 400 && a.status !== 404);
  if (failed) throw fromBody(failed.body, failed.status);
  if (found.length === 0) throw fromBody(answers[0]!.body, answers[0]!.status);
  return sumDbInfo(db, found);
}

/**
 * `PUT`/`DELETE /v1/db/{db}` on every shard (each shard's log gets its own
 * entry). All succeed → 201 if any shard created it, else 200. Some fail →
 * 503 with the per-shard results; the operation is idempotent, so a retry completes it.
 */
/** The Idempotency-Key header for a node request, when the client sent one. */
export const keyHeaders = (key: string | undefined): Record<string, string> => (key === undefined ? {} : { [IDEMPOTENCY_HEADER]: key });

export async function dbWrite(ctx: RouterContext, method: 'PUT' | 'DELETE', db: string, key?: string): Promise<{ status: number; body: unknown }> {
  const until = deadline(ctx);
  const settled = await Promise.allSettled(ctx.shards.list.map((rt) => writeToShard(ctx, rt, { method, path: dbPath(db), headers: keyHeaders(key) }, until)));
  const results = settled.map((s, shard) => s.status === 'fulfilled'
    ? { shard, ok: true, status: s.value.status, acks: s.value.body.acks }
    : { shard, ok: false, ...describe(s.reason) });
  const errorsSeen = settled.flatMap((s) => (s.status === 'rejected' ? [toError(s.reason)] : []));
  if (errorsSeen.length === 0) {
    const created = settled.some((s) => s.status === 'fulfilled' && s.value.status === 201);
    return { status: method === 'PUT' && created ? 201 : 200, body: { ok: true, db } };
  }
  // Deleting a db some shards no longer have is the retry completing: only all-404 is a 404.
  if (method === 'DELETE' && errorsSeen.every((e) => e.code === 'not_found')) {
    if (errorsSeen.length === settled.length) throw errorsSeen[0]!;
    return { status: 200, body: { ok: true, db } };
  }
  const client = errorsSeen.find((e) => e.status < 500 && e.code !== 'not_found');
  if (client && errorsSeen.length === settled.length) throw client;
  const unavailable = errorsSeen.find((e) => e.status >= 500) ?? errorsSeen[0]!;
  throw new TesseraError(unavailable.code, `${method === 'PUT' ? 'Created' : 'Deleted'} on ${settled.length - errorsSeen.length} of ${settled.length} shards; retry to complete`, {
    outcome: 'partial', shards: results,
  }, { 'retry-after': '1' });
}

function toError(reason: unknown): TesseraError {
  return reason instanceof TesseraError ? reason : new TesseraError('internal', (reason as Error)?.message);
}

function describe(reason: unknown): { status: number; error: string; message: string } {
  const e = toError(reason);
  return { status: e.status, error: e.code, message: e.message };
}

/** Collects up to `want` items from one shard, a node page at a time, by offset. */
async function collectByOffset<T extends IdItem>(want: number, fetchPage: (skip: number, limit: number) => Promise<ShardPage<T>>): Promise<ShardPage<T>> {
  const items: T[] = [];
  let total = 0;
  for (let skip = 0; ; ) {
    const limit = Math.min(NODE_PAGE_MAX, want - items.length);
    const page = await fetchPage(skip, Math.max(1, limit));
    total = page.total;
    items.push(...page.items.slice(0, limit));
    skip += page.items.length;
    if (items.length >= want || page.items.length < limit || page.items.length === 0) return { total, items };
  }
}

export interface AllDocsQuery {
  limit: number;
  skip: number;
  startAfter?: string;
  includeDeleted?: boolean;
}

/** `_all_docs` across shards; each shard is paged by `startAfter` until it gave `skip + limit` ids or ran out. */
export async function allDocs(ctx: RouterContext, db: string, q: AllDocsQuery) {
  const until = deadline(ctx);
  const want = q.skip + q.limit;
  const pages = await Promise.all(ctx.shards.list.map(async (rt) => {
    const items: IdItem[] = [];
    let total = 0;
    let after = q.startAfter;
    let next: string | null = null;
    for (;;) {
      const limit = Math.min(NODE_PAGE_MAX, want - items.length);
      const qs = new URLSearchParams({ limit: String(limit), skip: '0' });
      if (after !== undefined) qs.set('startAfter', after);
      if (q.includeDeleted) qs.set('includeDeleted', 'true');
      const page = await get<ShardPage<IdItem>>(ctx, rt, `${dbPath(db)}/_all_docs?${qs}`, until);
      total = page.total;
      items.push(...page.items);
      next = page.next ?? null;
      if (items.length >= want || next === null || page.items.length === 0) break;
      after = page.items.at(-1)!.id;
    }
    return { total, items, next };
  }));
  return mergeAllDocs(pages, q.skip, q.limit);
}

/** `_find/fields` and `_find/tags`: the same query on every shard, merged by id. */
export async function find(ctx: RouterContext, db: string, kind: 'fields' | 'tags', body: Record<string, unknown>) {
  const until = deadline(ctx);
  const skip = typeof body.skip === 'number' ? body.skip : 0;
  const limit = typeof body.limit === 'number' ? body.limit : 100;
  const pages = await Promise.all(ctx.shards.list.map((rt) => collectByOffset(skip + limit, (s, l) =>
    post<ShardPage<IdItem>>(ctx, rt, `${dbPath(db)}/_find/${kind}`, { ...body, skip: s, limit: l }, until))));
  return mergeFound(pages, skip, limit);
}

/** `_search`: full-text on every shard; merged by id (ranks of different shards are not comparable). */
export async function search(ctx: RouterContext, db: string, q: { q: string; skip: number; limit: number }) {
  const until = deadline(ctx);
  const pages = await Promise.all(ctx.shards.list.map((rt) => collectByOffset(q.skip + q.limit, (s, l) =>
    get<ShardPage<IdItem>>(ctx, rt, `${dbPath(db)}/_search?${new URLSearchParams({ q: q.q, skip: String(s), limit: String(l) })}`, until))));
  return mergeFound(pages, q.skip, q.limit);
}

export interface ChangesQuery {
  since?: string;
  limit: number;
  feed: 'normal' | 'longpoll';
  timeoutMs: number;
}

/**
 * `_changes`: per shard, the docs whose latest change has cursor < seq <=
 * commitSeq (never an entry that could still be rolled back). Long-polling
 * waits for any shard's commit point to move, up to `timeoutMs`.
 */
export async function changes(ctx: RouterContext, db: string, q: ChangesQuery, closed: () => boolean) {
  const shards = ctx.shards.list;
  const since = decodeCursor(q.since, shards.length);
  const longpollEnd = ctx.clock.now() + q.timeoutMs;
  for (;;) {
    const until = deadline(ctx);
    const perShard = await Promise.all(shards.map(async (rt, i) => {
      const upTo = rt.commitSeq;
      const from = since[i]!;
      const requested = Math.min(NODE_PAGE_MAX, q.limit);
      if (upTo <= from) return { results: [], since: from, until: from, requested };
      const qs = new URLSearchParams({ since: String(from), until: String(upTo), limit: String(requested) });
      const page = await get<{ results: Change[] }>(ctx, rt, `${dbPath(db)}/_changes?${qs}`, until);
      return { results: page.results.filter((c) => c.seq > from && c.seq <= upTo), since: from, until: upTo, requested };
    }));
    const merged = mergeChanges(perShard, q.limit);
    const now = ctx.clock.now();
    if (merged.results.length > 0 || q.feed !== 'longpoll' || now >= longpollEnd || closed() || ctx.closing) {
      return { results: merged.results, last: encodeCursor(merged.cursor) };
    }
    for (let i = 0; i < since.length; i++) since[i] = merged.cursor[i]!;
    await Promise.race(shards.map((rt) => rt.waitForCommitChange(longpollEnd)));
  }
}

export interface BulkDoc {
  id?: string;
  [key: string]: unknown;
}

/**
 * `_bulk_docs`: docs split by shard, one node request per shard, answered as
 * one array in request order. A shard that fails marks each of its docs with
 * the error (the other shards' docs stand).
 */
export async function bulkDocs(ctx: RouterContext, db: string, docs: BulkDoc[], key?: string): Promise<unknown[]> {
  const until = deadline(ctx);
  // Keyed: the ids the router makes up are derived from the key, so a retry sends the very same batch.
  const withIds = docs.map((d, i) => (typeof d.id === 'string' ? d : { ...d, id: key === undefined ? newDocId() : docIdForKey(`${key}#${i}`) }));
  const groups = new Map<ShardRuntime, number[]>();
  withIds.forEach((d, i) => {
    const rt = ctx.shards.forDoc(d.id as string);
    const g = groups.get(rt);
    if (g) g.push(i);
    else groups.set(rt, [i]);
  });
  const out = new Array<unknown>(docs.length);
  const settled = await Promise.allSettled([...groups].map(async ([rt, idx]) => {
    const res: WriteResult = await writeToShard(ctx, rt, { method: 'POST', path: `${dbPath(db)}/_bulk_docs`, body: { docs: idx.map((i) => withIds[i]) }, headers: keyHeaders(key) }, until);
    const results = (res.body as { results?: unknown[] }).results;
    if (!Array.isArray(results) || results.length !== idx.length) throw new TesseraError('internal', `shard ${rt.shardId} answered ${results?.length ?? 'no'} results for ${idx.length} docs`);
    idx.forEach((docIndex, k) => { out[docIndex] = results[k]; });
    return { rt, idx };
  }));
  const failures = settled.flatMap((s, g) => (s.status === 'rejected' ? [{ error: toError(s.reason), idx: [...groups.values()][g]! }] : []));
  // A client error every shard agrees on (no such db) is the request's error, not a per-doc one.
  if (failures.length === groups.size && failures.length > 0 && failures.every((f) => f.error.status < 500)) throw failures[0]!.error;
  for (const f of failures) {
    for (const i of f.idx) {
      out[i] = { id: withIds[i]!.id, error: f.error.code, reason: f.error.message, ...(f.error.details.outcome ? { outcome: f.error.details.outcome } : {}) };
    }
  }
  return out;
}

