import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AbortError, ConflictError, NetworkError, NoPrimaryError, QuorumNotMetError, TesseraClient, TooManyConflictsError, type ClientOptions,
} from '../../src/client/index.ts';

// The client against undici's MockAgent (no socket: disableNetConnect), so
// every router answer and failure is scripted: retries follow the outcome,
// the Idempotency-Key stays the same across attempts, failover moves between
// URLs, revision helpers and iterators page and resume as promised.

const A = 'http://router-a:8080';
const B = 'http://router-b:8080';

interface Seen { url: string; method: string; path: string; headers: Record<string, string>; body: unknown }

let agent: MockAgent;
let seen: Seen[];
let slept: number[];

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  seen = [];
  slept = [];
});

afterEach(async () => {
  await agent.close();
});

function client(extra: Partial<ClientOptions> = {}): TesseraClient {
  return new TesseraClient({
    urls: [A, B], dispatcher: agent, random: () => 1,
    sleep: async (ms) => { slept.push(ms); },
    ...extra,
  });
}

function headersOf(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(h)) for (let i = 0; i < h.length; i += 2) out[String(h[i]).toLowerCase()] = String(h[i + 1]);
  else if (h && typeof h === 'object') for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = String(v);
  return out;
}

/** Scripts one answer at `origin` and records the request it answers. */
function reply(origin: string, method: string, path: string, status: number, body: unknown, headers: Record<string, string> = {}) {
  agent.get(origin).intercept({ method, path }).reply((opts) => {
    seen.push({ url: origin, method, path, headers: headersOf(opts.headers), body: typeof opts.body === 'string' ? JSON.parse(opts.body) : undefined });
    return { statusCode: status, data: body === undefined ? '' : JSON.stringify(body), responseOptions: { headers: { 'content-type': 'application/json', ...headers } } };
  });
}

function fail(origin: string, method: string, path: string, code: string) {
  agent.get(origin).intercept({ method, path }).replyWithError(Object.assign(new Error(`${code} (scripted)`), { code }));
}

const doc = (id: string, rev: string, data: Record<string, unknown>) => ({ id, rev, data });
const written = (id: string, rev: string, data: Record<string, unknown>) => ({ ...doc(id, rev, data), seq: 5, shard: 0, acks: 2 });
const indeterminate = { ok: false, error: 'quorum_not_met', message: 'reached 1 of 2', outcome: 'indeterminate', acks: 1, required: 2 };
const notApplied = { ok: false, error: 'no_primary', message: 'no primary', outcome: 'not_applied', shard: 0 };

describe('writes: retries follow the outcome', () => {
  it('repeats an indeterminate write with the same Idempotency-Key, after Retry-After', async () => {
    reply(A, 'PUT', '/v1/db/notes/docs/a', 503, indeterminate, { 'retry-after': '1' });
    reply(B, 'PUT', '/v1/db/notes/docs/a', 200, written('a', '2-x', { n: 2 }));
    const c = client();
    const res = await c.db<{ n: number }>('notes').put('a', { data: { n: 2 } }, { rev: '1-y' });
    expect(res).toMatchObject({ id: 'a', rev: '2-x', data: { n: 2 }, acks: 2 });
    expect(seen).toHaveLength(2);
    expect(seen[0]!.body).toEqual({ data: { n: 2 }, rev: '1-y' });
    const key = seen[0]!.headers['idempotency-key'];
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]!.headers['idempotency-key']).toBe(key);
    expect(slept).toEqual([1000]);
  });

  it('does not repeat an indeterminate write when Idempotency-Keys are off: the typed error says so', async () => {
    reply(A, 'PUT', '/v1/db/notes/docs/a', 503, indeterminate, { 'retry-after': '1' });
    const err = await client({ idempotencyKeys: false }).db('notes').put('a', { data: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuorumNotMetError);
    expect(err).toMatchObject({ outcome: 'indeterminate', details: { acks: 1, required: 2 }, retryAfterMs: 1000 });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['idempotency-key']).toBeUndefined();
  });

  it('repeats a not_applied write even without a key, and gives up after maxAttempts with the typed error', async () => {
    for (let i = 0; i < 3; i++) reply(i % 2 === 0 ? A : B, 'PUT', '/v1/db/notes/docs/a', 503, notApplied, { 'retry-after': '1' });
    const err = await client({ idempotencyKeys: false, retry: { maxAttempts: 3 } }).db('notes').put('a', { data: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoPrimaryError);
    expect(seen.map((s) => s.url)).toEqual([A, B, A]);
    expect(slept).toEqual([1000, 1000]);
  });

  it('a connection lost after the request went out is not repeated without a key', async () => {
    fail(A, 'PUT', '/v1/db/notes/docs/a', 'ECONNRESET');
    const err = await client({ idempotencyKeys: false }).db('notes').put('a', { data: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ notDelivered: false, causeCode: 'ECONNRESET' });
  });

  it('409 is the answer (ConflictError), never repeated', async () => {
    reply(A, 'PUT', '/v1/db/notes/docs/a', 409, { ok: false, error: 'conflict', message: 'rev 1-y is not the current rev of a' });
    await expect(client().db('notes').put('a', { data: {} }, { rev: '1-y' })).rejects.toBeInstanceOf(ConflictError);
    expect(seen).toHaveLength(1);
  });

  it('insert picks the id, and a repeat names the same document', async () => {
    reply(A, 'POST', '/v1/db/notes/docs', 503, indeterminate);
    reply(B, 'POST', '/v1/db/notes/docs', 201, written('will-be-checked', '1-x', {}));
    await client().db('notes').insert({ data: { t: 1 } });
    const ids = seen.map((s) => (s.body as { id: string }).id);
    expect(ids[0]).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(ids[1]).toBe(ids[0]);
    expect(seen[1]!.headers['idempotency-key']).toBe(seen[0]!.headers['idempotency-key']);
  });

  it('Prefer: return=minimal on request; a bearer token on every request', async () => {
    reply(A, 'PUT', '/v1/db/notes/docs/a', 201, { ok: true, id: 'a', rev: '1-x', seq: 3, shard: 1, acks: 2 });
    const res = await client({ token: 'tok' }).db('notes').put('a', { data: {} }, { minimal: true });
    expect(res).toEqual({ ok: true, id: 'a', rev: '1-x', seq: 3, shard: 1, acks: 2 });
    expect(seen[0]!.headers).toMatchObject({ prefer: 'return=minimal', authorization: 'Bearer tok' });
  });
});

describe('failover between router URLs', () => {
  it('an unreachable router is skipped at once, and later requests stick to the one that answered', async () => {
    fail(A, 'GET', '/v1/db/notes/docs/a', 'ECONNREFUSED');
    reply(B, 'GET', '/v1/db/notes/docs/a', 200, doc('a', '1-x', {}));
    reply(B, 'GET', '/v1/db/notes/docs/b', 200, doc('b', '1-z', {}));
    const db = client().db('notes');
    await db.get('a');
    await db.get('b');
    expect(seen.map((s) => `${s.url} ${s.path}`)).toEqual([`${B} /v1/db/notes/docs/a`, `${B} /v1/db/notes/docs/b`]);
    expect(slept).toEqual([]);
  });

  it('a read is repeated after a lost connection or a 503, on the next router', async () => {
    fail(A, 'GET', '/v1/db/notes', 'ECONNRESET');
    reply(B, 'GET', '/v1/db/notes', 503, { ok: false, error: 'unavailable', message: 'closing' });
    reply(A, 'GET', '/v1/db/notes', 200, { db: 'notes', docCount: 1, deletedCount: 0, seq: 4 });
    const onRetry: string[] = [];
    const info = await client({ onRetry: (i) => onRetry.push(`${i.url} ${i.reason}`) }).db('notes').info();
    expect(info.docCount).toBe(1);
    expect(onRetry).toEqual([`${A} connection lost`, `${B} answer 503 unavailable`]);
  });
});

describe('timeouts and AbortSignal', () => {
  it('an attempt past timeoutMs is a TimeoutError (a NetworkError with timedOut), repeated for reads', async () => {
    agent.get(A).intercept({ method: 'GET', path: '/v1/db' }).reply(200, { dbs: [] }).delay(2000);
    reply(B, 'GET', '/v1/db', 200, { dbs: ['x'] });
    const retried: Error[] = [];
    expect(await client({ timeoutMs: 50, onRetry: (i) => retried.push(i.error) }).listDbs()).toEqual(['x']);
    expect(retried[0]).toBeInstanceOf(NetworkError);
    expect(retried[0]).toMatchObject({ name: 'TimeoutError', timedOut: true, notDelivered: false });
  });

  it('the whole call stops at deadlineMs with the last error', async () => {
    agent.get(A).intercept({ method: 'GET', path: '/v1/db' }).reply(200, { dbs: [] }).delay(2000).persist();
    agent.get(B).intercept({ method: 'GET', path: '/v1/db' }).reply(200, { dbs: [] }).delay(2000).persist();
    const started = Date.now();
    const err = await client({ timeoutMs: 1000, deadlineMs: 150, sleep: undefined }).listDbs().catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('aborting ends the call with AbortError, also while it waits to retry', async () => {
    reply(A, 'PUT', '/v1/db/notes/docs/a', 503, notApplied, { 'retry-after': '1' });
    const ctrl = new AbortController();
    const c = new TesseraClient({ urls: A, dispatcher: agent, random: () => 1 });
    const pending = c.db('notes').put('a', { data: {} }, { signal: ctrl.signal });
    setImmediate(() => ctrl.abort());
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    const pre = new AbortController();
    pre.abort();
    await expect(c.listDbs({ signal: pre.signal })).rejects.toBeInstanceOf(AbortError);
  });
});

describe('revision helpers', () => {
  it('update() reads, writes with the current rev, and on 409 reads again and re-applies', async () => {
    reply(A, 'GET', '/v1/db/c/docs/k', 200, doc('k', '1-a', { n: 1 }));
    reply(A, 'PUT', '/v1/db/c/docs/k', 409, { ok: false, error: 'conflict', message: 'stale' });
    reply(A, 'GET', '/v1/db/c/docs/k', 200, doc('k', '2-b', { n: 5 }));
    reply(A, 'PUT', '/v1/db/c/docs/k', 200, written('k', '3-c', { n: 6 }));
    const calls: number[] = [];
    const res = await client().db<{ n: number }>('c').update('k', (cur) => {
      calls.push(cur!.data.n);
      return { data: { n: cur!.data.n + 1 } };
    });
    expect(calls).toEqual([1, 5]);
    expect(res).toMatchObject({ rev: '3-c', data: { n: 6 } });
    const puts = seen.filter((s) => s.method === 'PUT').map((s) => s.body);
    expect(puts).toEqual([{ data: { n: 2 }, rev: '1-a' }, { data: { n: 6 }, rev: '2-b' }]);
  });

  it('update() creates a missing document (no rev), leaves it alone when fn returns undefined, and gives up after maxAttempts', async () => {
    reply(A, 'GET', '/v1/db/c/docs/new', 404, { ok: false, error: 'not_found', message: 'no' });
    reply(A, 'PUT', '/v1/db/c/docs/new', 201, written('new', '1-a', { n: 0 }));
    const db = client().db<{ n: number }>('c');
    expect(await db.update('new', (cur) => (cur ? undefined : { data: { n: 0 } }))).toMatchObject({ rev: '1-a' });
    expect(seen.at(-1)!.body).toEqual({ data: { n: 0 } });

    reply(A, 'GET', '/v1/db/c/docs/same', 200, doc('same', '4-d', { n: 4 }));
    expect(await db.update('same', () => undefined)).toMatchObject({ rev: '4-d' });

    for (let i = 0; i < 2; i++) {
      reply(A, 'GET', '/v1/db/c/docs/hot', 200, doc('hot', `${i + 1}-e`, { n: i }));
      reply(A, 'PUT', '/v1/db/c/docs/hot', 409, { ok: false, error: 'conflict', message: 'stale' });
    }
    await expect(db.update('hot', (cur) => ({ data: { n: cur!.data.n + 1 } }), { maxAttempts: 2 })).rejects.toBeInstanceOf(TooManyConflictsError);
  });

  it('getIfChanged sends If-None-Match and reads 304 (and an unchanged rev) as unchanged', async () => {
    reply(A, 'GET', '/v1/db/c/docs/k', 304, undefined);
    reply(A, 'GET', '/v1/db/c/docs/k', 200, doc('k', '1-a', {}));
    reply(A, 'GET', '/v1/db/c/docs/k', 200, doc('k', '2-b', { n: 1 }));
    const db = client().db('c');
    expect(await db.getIfChanged('k', '1-a')).toEqual({ changed: false });
    expect(seen[0]!.headers['if-none-match']).toBe('"1-a"');
    expect(await db.getIfChanged('k', '1-a')).toEqual({ changed: false });
    expect(await db.getIfChanged('k', '1-a')).toMatchObject({ changed: true, doc: { rev: '2-b' } });
  });
});

describe('iterators', () => {
  it('allDocs pages by next until null', async () => {
    reply(A, 'GET', '/v1/db/c/_all_docs?limit=2', 200, { total: 3, items: [doc('a', '1-a', {}), doc('b', '1-b', {})], next: 'b' });
    reply(A, 'GET', '/v1/db/c/_all_docs?limit=2&startAfter=b', 200, { total: 3, items: [doc('c', '1-c', {})], next: null });
    const ids: string[] = [];
    for await (const d of client().db('c').allDocs({ pageSize: 2 })) ids.push(d.id);
    expect(ids).toEqual(['a', 'b', 'c']);
  });

  it('follow long-polls from the cursor, waits out a 503 and an unreachable router, yields only non-empty pages, ends on abort', async () => {
    const path = (since?: string) => `/v1/db/c/_changes?${since ? `since=${since}&` : ''}feed=longpoll&timeout=1000`;
    reply(A, 'GET', path('c0'), 200, { results: [{ id: 'a', rev: '1-a' }], last: 'c1' });
    reply(A, 'GET', path('c1'), 200, { results: [], last: 'c1' });
    reply(A, 'GET', path('c1'), 503, { ok: false, error: 'no_primary', message: 'election', outcome: 'not_applied' });
    fail(B, 'GET', path('c1'), 'ECONNREFUSED');
    reply(A, 'GET', path('c1'), 200, { results: [{ id: 'b', rev: '2-b', deleted: true }], last: 'c2' });
    const ctrl = new AbortController();
    // Everything scripted has been answered: the next poll meets no interceptor, so abort once it is reached.
    agent.get(A).intercept({ method: 'GET', path: path('c2') }).reply(() => {
      ctrl.abort();
      return { statusCode: 200, data: JSON.stringify({ results: [], last: 'c2' }), responseOptions: { headers: { 'content-type': 'application/json' } } };
    });
    const pages: Array<{ ids: string[]; last: string }> = [];
    for await (const p of client({ retry: { maxAttempts: 2 } }).db('c').follow({ since: 'c0', longpollMs: 1000, signal: ctrl.signal })) {
      pages.push({ ids: p.results.map((r) => r.id), last: p.last });
    }
    expect(pages).toEqual([{ ids: ['a'], last: 'c1' }, { ids: ['b'], last: 'c2' }]);
  });
});
