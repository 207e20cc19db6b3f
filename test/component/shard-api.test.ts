import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config/index.ts';
import type { Doc } from '../../src/core/protocol.ts';
import { Gauge, Registry } from 'prom-client';
import { build } from '../../shard/app.ts';
import { GroupCommit, Store } from '../../shard/store/index.ts';

const root = mkdtempSync(join(tmpdir(), 'tessera-shard-api-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SECRET = 'api-secret';
const config = parseConfig({
  cluster: { name: 't', secret: SECRET },
  router: { url: 'http://127.0.0.1:17100' },
  replication: { writeQuorum: 2 },
  shards: [{ id: 0, nodes: [{ id: 'n1', url: 'http://127.0.0.1:17101' }, { id: 'n2', url: 'http://127.0.0.1:17102' }, { id: 'n3', url: 'http://127.0.0.1:17103' }] }],
}, { baseDir: root, env: {} });

interface Node {
  app: FastifyInstance;
  store: Store;
}
const nodes: Node[] = [];
let seq = 0;
async function node(nodeId = 'n1', joined = true): Promise<Node> {
  const store = new Store({ path: join(root, `${nodeId}-${seq++}.db`), nodeId, shardId: 0, initial: { role: nodeId === 'n1' ? 'primary' : 'replica', primaryId: 'n1', joined }, walRetention: 100 });
  let ids = 0;
  const app = await build({ store, commit: new GroupCommit(store), config, newId: () => `gen${ids++}` });
  const n = { app, store };
  nodes.push(n);
  return n;
}
afterEach(async () => {
  for (const n of nodes.splice(0)) {
    await n.app.close();
    n.store.close();
  }
});

const auth = { authorization: `Bearer ${SECRET}` };
/**
 * These tests stand in for the router. A node serves committed reads only,
 * as of the commit point it knows; a router sends the one it counted with
 * every read (x-tessera-commit). Here the test is the only writer and every
 * write was answered, so it names the log's end (for a replica the router
 * would send no more than the replica's match point; here a replica holds
 * only what the test replicated to it, all of it from the primary's log).
 */
function readerCommit(n: Node, method: InjectOptions['method'], url: string, headers: Record<string, string>): Record<string, string> {
  const read = url.startsWith('/v1/db') && (method === 'GET' || url.includes('/_find/'));
  if (!read || 'x-tessera-commit' in headers) return headers;
  return { 'x-tessera-commit': String(n.store.last().seq), ...headers };
}

async function call(n: Node, method: InjectOptions['method'], url: string, body?: unknown, given: Record<string, string> = {}) {
  const headers = readerCommit(n, method, url, given);
  const res = await n.app.inject({ method, url, headers: { ...auth, ...headers }, ...(body === undefined ? {} : typeof body === 'string' ? { payload: body, headers: { ...auth, 'content-type': 'application/json', ...headers } } : { payload: body as object }) });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null, headers: res.headers };
}

let p: Node;
beforeEach(async () => {
  p = await node();
});

describe('auth, probes and unknown routes', () => {
  it('needs the secret on document and replication routes (401), not on probes', async () => {
    for (const url of ['/v1/db', '/v1/_replication/state', '/v1/_replication/wal?since=0']) {
      const none = await p.app.inject({ method: 'GET', url });
      expect([none.statusCode, none.json().error]).toEqual([401, 'unauthorized']);
      const wrong = await p.app.inject({ method: 'GET', url, headers: { authorization: 'Bearer nope' } });
      expect(wrong.statusCode).toBe(401);
      expect((await call(p, 'GET', url)).status).toBe(200);
    }
    expect((await p.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ ok: true });
    expect((await p.app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ ready: true });
  });

  it('serves /metrics behind the secret when given a registry', async () => {
    const store = new Store({ path: join(root, `m-${seq++}.db`), nodeId: 'n1', shardId: 0, initial: { role: 'primary', primaryId: 'n1', joined: true }, walRetention: 100 });
    const registry = new Registry();
    const gauge = new Gauge({ name: 'tessera_test_scrapes', help: 'scrapes', registers: [registry] });
    let scrapes = 0;
    const app = await build({ store, commit: new GroupCommit(store), config, registry, beforeScrape: () => gauge.set(++scrapes) });
    nodes.push({ app, store });
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('tessera_test_scrapes 1');
  });

  it('unknown routes are a JSON 404', async () => {
    const res = await call(p, 'GET', '/v1/nothing/here');
    expect(res).toMatchObject({ status: 404, body: { ok: false, error: 'not_found' } });
    expect((await p.app.inject({ method: 'POST', url: '/nope' })).json()).toMatchObject({ error: 'not_found' });
  });

  it('a replica is not ready until it hears from the primary', async () => {
    const r = await node('n2');
    const res = await r.app.inject({ method: 'GET', url: '/readyz' });
    expect([res.statusCode, res.json().ready]).toEqual([503, false]);
  });
});

describe('databases', () => {
  it('create (201, then 200), list, info, delete (200, then 404), bad names', async () => {
    expect(await call(p, 'PUT', '/v1/db/alpha')).toMatchObject({ status: 201, body: { ok: true, db: 'alpha', seq: 1 } });
    expect(await call(p, 'PUT', '/v1/db/alpha')).toMatchObject({ status: 200, body: { ok: true, db: 'alpha', seq: 1 } });
    await call(p, 'PUT', '/v1/db/beta');
    expect((await call(p, 'GET', '/v1/db')).body).toEqual({ dbs: ['alpha', 'beta'] });
    await call(p, 'PUT', '/v1/db/alpha/docs/x', { data: {} });
    expect((await call(p, 'GET', '/v1/db/alpha')).body).toEqual({ db: 'alpha', docCount: 1, deletedCount: 0, seq: 3 });
    expect(await call(p, 'DELETE', '/v1/db/alpha')).toMatchObject({ status: 200, body: { ok: true, db: 'alpha', seq: 4 } });
    expect(await call(p, 'DELETE', '/v1/db/alpha')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect(await call(p, 'GET', '/v1/db/alpha/docs/x')).toMatchObject({ status: 404 });
    for (const bad of ['Upper', '1abc', 'a'.repeat(65), 'a%20b']) {
      expect(await call(p, 'PUT', `/v1/db/${bad}`)).toMatchObject({ status: 400, body: { error: 'bad_request', path: 'params.db' } });
    }
  });

  it('doc writes into a missing db are 404', async () => {
    expect(await call(p, 'PUT', '/v1/db/ghost/docs/x', { data: {} })).toMatchObject({ status: 404, body: { error: 'not_found' } });
  });
});

describe('documents: revision rules over HTTP', () => {
  beforeEach(async () => {
    await call(p, 'PUT', '/v1/db/d');
  });

  it('new, update, stale rev, idempotent retry, delete, ?rev=, re-create', async () => {
    const created = await call(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 }, tags: ['a'], content: 'hi' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'x', data: { v: 1 }, tags: ['a'], content: 'hi', seq: 2 });
    expect(created.body.rev).toMatch(/^1-[0-9a-f]{40}$/);
    expect(created.body.entries).toBeUndefined();
    const v1 = created.body.rev as string;

    const retry = await call(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 }, tags: ['a'], content: 'hi' });
    expect(retry).toMatchObject({ status: 201, body: created.body });

    const updated = await call(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 2 } }, { 'if-match': `"${v1}"` });
    expect(updated.status).toBe(200);
    expect(updated.body.rev).toMatch(/^2-/);
    expect(await call(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 2 }, rev: v1 })).toMatchObject({ status: 200, body: updated.body });
    expect(await call(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 3 }, rev: v1 })).toMatchObject({ status: 409, body: { error: 'conflict' } });
    expect(await call(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 3 } })).toMatchObject({ status: 409, body: { error: 'conflict' } });

    expect((await call(p, 'GET', `/v1/db/d/docs/x?rev=${v1}`)).body).toMatchObject({ rev: v1, data: { v: 1 } });
    expect((await call(p, 'GET', '/v1/db/d/docs/x')).body).toEqual({ id: 'x', rev: updated.body.rev, data: { v: 2 } });

    expect(await call(p, 'DELETE', '/v1/db/d/docs/x')).toMatchObject({ status: 400, body: { error: 'bad_request' } });
    const del = await call(p, 'DELETE', `/v1/db/d/docs/x?rev=${updated.body.rev}`);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ ok: true, id: 'x', rev: expect.stringMatching(/^3-/), seq: 4 });
    expect(await call(p, 'DELETE', `/v1/db/d/docs/x?rev=${updated.body.rev}`)).toMatchObject({ status: 200, body: del.body });
    expect(await call(p, 'GET', '/v1/db/d/docs/x')).toMatchObject({ status: 404 });
    expect((await call(p, 'GET', `/v1/db/d/docs/x?rev=${del.body.rev}`)).body).toMatchObject({ deleted: true });

    const again = await call(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 'back' } });
    expect(again.status).toBe(201);
    expect(again.body.rev).toMatch(/^4-/);
    expect(await call(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 'back' } })).toMatchObject({ status: 201, body: again.body });
    expect(await call(p, 'DELETE', `/v1/db/d/docs/missing?rev=1-${'a'.repeat(40)}`)).toMatchObject({ status: 404 });
  });

  it('POST creates with the given id or a generated one, with Location', async () => {
    const given = await call(p, 'POST', '/v1/db/d/docs', { id: 'mine', data: {} });
    expect(given).toMatchObject({ status: 201, body: { id: 'mine' }, headers: { location: '/v1/db/d/docs/mine' } });
    const gen = await call(p, 'POST', '/v1/db/d/docs', { data: { a: 1 } });
    expect(gen).toMatchObject({ status: 201, body: { id: 'gen0', data: { a: 1 } }, headers: { location: '/v1/db/d/docs/gen0' } });
  });

  it('router-stamped writes return their entries; a wrong term is stale_term; a replica says not_primary', async () => {
    const res = await call(p, 'PUT', '/v1/db/d/docs/x', { data: {} }, { 'x-tessera-term': '1', 'x-tessera-commit': '1' });
    expect(res.body.entries).toEqual([expect.objectContaining({ seq: 2, term: 1, op: 'put', db: 'd', id: 'x', rev: res.body.rev })]);
    expect((await call(p, 'PUT', '/v1/db/d', undefined, { 'x-tessera-term': '1' })).body).toMatchObject({ seq: 2, entries: [] });
    expect(await call(p, 'PUT', '/v1/db/d/docs/y', { data: {} }, { 'x-tessera-term': '7' }))
      .toMatchObject({ status: 409, body: { error: 'stale_term', term: 1, primaryId: 'n1' } });
    expect(await call(p, 'PUT', '/v1/db/d/docs/y', { data: {} }, { 'x-tessera-term': 'x' })).toMatchObject({ status: 400 });
    expect((await call(p, 'GET', '/v1/_replication/state')).body.commitSeq).toBe(1);
    const r = await node('n2');
    expect(await call(r, 'PUT', '/v1/db/d')).toMatchObject({ status: 409, body: { error: 'not_primary', primaryId: 'n1', term: 1 } });
  });

  it('a fresh data dir is not joined: it refuses writes and votes (taking no term); a router joins it at the term it read from the others', async () => {
    // The shard's first node on a new data dir starts as primary at term 1, not joined: a wiped
    // node cannot tell a new cluster from a wipe, and its votes and writes might repeat forgotten ones.
    const fresh = await node('n1', false);
    expect((await call(fresh, 'GET', '/v1/_replication/state')).body).toMatchObject({ role: 'primary', term: 1, joined: false, incarnation: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(await call(fresh, 'PUT', '/v1/db/e', undefined, { 'x-tessera-term': '1' })).toMatchObject({ status: 409, body: { error: 'not_primary' } });
    expect((await call(fresh, 'POST', '/v1/_replication/vote', { term: 4, candidateId: 'n2', lastTerm: 0, lastSeq: 0 })).body).toMatchObject({ granted: false, term: 1 });
    // The others said term 3 and have written: it joins as a replica, and votes for nobody in term 3.
    const joined = await call(fresh, 'POST', '/v1/_replication/join', { term: 3, role: 'replica', primaryId: 'n2' });
    expect(joined).toMatchObject({ status: 200, body: { role: 'replica', term: 3, joined: true, primaryId: 'n2', votedFor: '(joined)' } });
    expect((await call(fresh, 'POST', '/v1/_replication/vote', { term: 3, candidateId: 'n3', lastTerm: 0, lastSeq: 0 })).body).toMatchObject({ granted: false, term: 3 });
    expect((await call(fresh, 'POST', '/v1/_replication/vote', { term: 4, candidateId: 'n3', lastTerm: 0, lastSeq: 0 })).body).toMatchObject({ granted: true, term: 4 });
    // A join of a joined node changes nothing; a malformed one is 400.
    expect((await call(fresh, 'POST', '/v1/_replication/join', { term: 9, role: 'primary', primaryId: null })).body).toMatchObject({ term: 4, role: 'replica' });
    expect((await call(fresh, 'POST', '/v1/_replication/join', { term: 0, role: 'boss', primaryId: 1 })).status).toBe(400);
    // A brand-new shard: the first node joins as its primary and takes writes.
    const first = await node('n1', false);
    expect((await call(first, 'POST', '/v1/_replication/join', { term: 1, role: 'primary', primaryId: 'n1' })).body).toMatchObject({ role: 'primary', term: 1, joined: true });
    expect((await call(first, 'PUT', '/v1/db/e', undefined, { 'x-tessera-term': '1' })).status).toBe(201);
  });

  it('bulk: per-doc results in request order, one conflict does not undo the others', async () => {
    const x = await call(p, 'PUT', '/v1/db/d/docs/x', { data: {} });
    const res = await call(p, 'POST', '/v1/db/d/_bulk_docs', {
      docs: [{ id: 'a', data: { n: 1 } }, { id: 'x', data: { n: 2 } }, { data: { n: 3 } }, { id: 'x', rev: x.body.rev, deleted: true }, { id: 'b' }],
    }, { 'x-tessera-term': '1' });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([
      { ok: true, id: 'a', rev: expect.stringMatching(/^1-/), seq: 3 },
      { id: 'x', error: 'conflict', reason: expect.any(String) },
      { ok: true, id: 'gen0', rev: expect.stringMatching(/^1-/), seq: 4 },
      { ok: true, id: 'x', rev: expect.stringMatching(/^2-/), seq: 5 },
      { id: 'b', error: 'bad_request', reason: expect.any(String) },
    ]);
    expect(res.body.seq).toBe(5);
    expect(res.body.entries.map((e: { seq: number }) => e.seq)).toEqual([3, 4, 5]);
  });
});

describe('queries', () => {
  beforeEach(async () => {
    await call(p, 'PUT', '/v1/db/q');
    const docs = [
      { id: 'a', data: { n: 1, kind: 'x' }, tags: ['red', 'big'], content: 'the quick brown fox' },
      { id: 'b', data: { n: '1', kind: 'x' }, tags: ['red'], content: 'lazy dog sleeps' },
      { id: 'c', data: { n: 5, kind: 'y' }, tags: ['blue', 'big'], content: 'quick thinking' },
      { id: 'd', data: { n: 10, kind: 'y' }, tags: [], content: 'nothing here' },
      { id: 'e', data: { n: 11 } },
    ];
    await call(p, 'POST', '/v1/db/q/_bulk_docs', { docs });
    const e = (await call(p, 'GET', '/v1/db/q/docs/e')).body as Doc;
    await call(p, 'DELETE', `/v1/db/q/docs/e?rev=${e.rev}`);
  });
  const ids = (body: { items: Doc[] }) => body.items.map((d) => d.id);

  it('_all_docs pages in id order with total and next; deleted only on request', async () => {
    const first = (await call(p, 'GET', '/v1/db/q/_all_docs?limit=2')).body;
    expect([first.total, ids(first), first.next]).toEqual([4, ['a', 'b'], 'b']);
    const second = (await call(p, 'GET', '/v1/db/q/_all_docs?limit=2&startAfter=b')).body;
    expect([ids(second), second.next]).toEqual([['c', 'd'], null]);
    expect(ids((await call(p, 'GET', '/v1/db/q/_all_docs?skip=1&limit=2')).body)).toEqual(['b', 'c']);
    const all = (await call(p, 'GET', '/v1/db/q/_all_docs?includeDeleted=true')).body;
    expect([all.total, ids(all)]).toEqual([4, ['a', 'b', 'c', 'd', 'e']]);
    expect(all.items[4]).toMatchObject({ id: 'e', deleted: true });
    expect(await call(p, 'GET', '/v1/db/q/_all_docs?limit=5000')).toMatchObject({ status: 400 });
    expect(await call(p, 'GET', '/v1/db/q/_all_docs?limit=-1')).toMatchObject({ status: 400 });
    expect(await call(p, 'GET', '/v1/db/nope/_all_docs')).toMatchObject({ status: 404 });
  });

  it('_find/fields matches JSON types (1 ≠ "1") with inclusive min/max', async () => {
    expect(ids((await call(p, 'POST', '/v1/db/q/_find/fields', { equalsMap: { n: 1 } })).body)).toEqual(['a']);
    expect(ids((await call(p, 'POST', '/v1/db/q/_find/fields', { equalsMap: { n: '1' } })).body)).toEqual(['b']);
    const range = (await call(p, 'POST', '/v1/db/q/_find/fields', { numericField: 'n', min: 1, max: 10 })).body;
    expect([range.total, ids(range)]).toEqual([3, ['a', 'c', 'd']]);
    const paged = (await call(p, 'POST', '/v1/db/q/_find/fields', { equalsMap: { kind: 'y' }, skip: 1, limit: 1 })).body;
    expect([paged.total, ids(paged)]).toEqual([2, ['d']]);
    expect(await call(p, 'POST', '/v1/db/q/_find/fields', { min: 'low' })).toMatchObject({ status: 400, body: { path: 'body.min' } });
  });

  it('_find/tags: allOf, anyOf, noneOf', async () => {
    expect(ids((await call(p, 'POST', '/v1/db/q/_find/tags', { allOf: ['red', 'big'] })).body)).toEqual(['a']);
    expect(ids((await call(p, 'POST', '/v1/db/q/_find/tags', { anyOf: ['blue', 'red'] })).body)).toEqual(['a', 'b', 'c']);
    expect(ids((await call(p, 'POST', '/v1/db/q/_find/tags', { anyOf: ['big'], noneOf: ['blue'] })).body)).toEqual(['a']);
    expect(await call(p, 'POST', '/v1/db/q/_find/tags', { allOf: 'red' })).toMatchObject({ status: 400 });
  });

  it('_search is full-text over content; bad FTS syntax is 400, not 500', async () => {
    const hit = (await call(p, 'GET', '/v1/db/q/_search?q=quick')).body;
    expect([hit.total, ids(hit).sort()]).toEqual([2, ['a', 'c']]);
    expect((await call(p, 'GET', '/v1/db/q/_search?q=quick&limit=1&skip=1')).body.items).toHaveLength(1);
    expect((await call(p, 'GET', '/v1/db/q/_search?q=dog')).body.total).toBe(1);
    for (const bad of ['%22unterminated', 'AND', '(quick']) {
      expect(await call(p, 'GET', `/v1/db/q/_search?q=${bad}`)).toMatchObject({ status: 400, body: { error: 'bad_request' } });
    }
    expect(await call(p, 'GET', '/v1/db/q/_search')).toMatchObject({ status: 400 });
  });

  it('_changes lists each doc once at its latest seq, within (since, until]', async () => {
    const all = (await call(p, 'GET', '/v1/db/q/_changes?since=0')).body;
    expect(all.results.map((r: { id: string }) => r.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(all.results.at(-1)).toMatchObject({ id: 'e', deleted: true, seq: 7 });
    expect(all.last).toBe(7);
    const some = (await call(p, 'GET', '/v1/db/q/_changes?since=2&limit=2')).body;
    expect(some).toMatchObject({ results: [{ id: 'b', seq: 3 }, { id: 'c', seq: 4 }], last: 4 });
    const upto = (await call(p, 'GET', '/v1/db/q/_changes?since=0&until=3')).body;
    expect(upto).toMatchObject({ results: [{ id: 'a' }, { id: 'b' }], last: 3 });
  });
});

describe('bad input', () => {
  beforeEach(async () => {
    await call(p, 'PUT', '/v1/db/d');
  });

  it('malformed JSON, wrong types and missing fields are 400 with the path', async () => {
    expect(await call(p, 'PUT', '/v1/db/d/docs/x', '{"data": ')).toMatchObject({ status: 400, body: { error: 'bad_request' } });
    expect(await call(p, 'PUT', '/v1/db/d/docs/x', { data: 'str' })).toMatchObject({ status: 400, body: { path: 'body.data' } });
    expect(await call(p, 'PUT', '/v1/db/d/docs/x', { data: [] })).toMatchObject({ status: 400 });
    expect(await call(p, 'PUT', '/v1/db/d/docs/x', { data: {}, tags: [1] })).toMatchObject({ status: 400, body: { path: 'body.tags.0' } });
    expect(await call(p, 'PUT', '/v1/db/d/docs/x', { data: {}, content: 5 })).toMatchObject({ status: 400, body: { path: 'body.content' } });
    expect(await call(p, 'PUT', '/v1/db/d/docs/x', { tags: [] })).toMatchObject({ status: 400, body: { path: 'body.data' } });
    expect(await call(p, 'POST', '/v1/db/d/_bulk_docs', { docs: 'no' })).toMatchObject({ status: 400 });
    expect(await call(p, 'POST', '/v1/_replication/vote', { term: 'one' })).toMatchObject({ status: 400 });
    expect(await call(p, 'POST', '/v1/_replication/replicate', { term: 1 })).toMatchObject({ status: 400 });
  });

  it('a 300-character id is 400; an id with bad characters is 400', async () => {
    expect(await call(p, 'PUT', `/v1/db/d/docs/${'x'.repeat(300)}`, { data: {} })).toMatchObject({ status: 400, body: { path: 'params.id' } });
    expect(await call(p, 'PUT', '/v1/db/d/docs/a%2Fb', { data: {} })).toMatchObject({ status: 400 });
    expect(await call(p, 'GET', `/v1/db/d/docs/${'x'.repeat(5000)}`)).toMatchObject({ status: 400, body: { ok: false, error: 'bad_request' } });
    expect(await call(p, 'POST', '/v1/db/d/docs', { id: 'sp ace', data: {} })).toMatchObject({ status: 400 });
    expect((await call(p, 'PUT', `/v1/db/d/docs/${'x'.repeat(200)}`, { data: {} })).status).toBe(201);
  });

  it('a 2 MiB body is 413; a doc just over maxDocBytes is 413 too', async () => {
    const huge = JSON.stringify({ data: { s: 'x'.repeat(2 * 1024 * 1024) } });
    expect(await call(p, 'PUT', '/v1/db/d/docs/x', huge)).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    const over = JSON.stringify({ data: { s: 'x'.repeat(config.limits.maxDocBytes) } });
    expect(await call(p, 'PUT', '/v1/db/d/docs/x', over)).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    expect((await call(p, 'GET', '/v1/db/d')).body.docCount).toBe(0);
    expect((await call(p, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('replication endpoints', () => {
  it('state, replicate, wal, vote, promote over HTTP', async () => {
    const r = await node('n2');
    await call(p, 'PUT', '/v1/db/d');
    await call(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } });
    const wal = (await call(p, 'GET', '/v1/_replication/wal?since=0&limit=10')).body;
    expect(wal).toMatchObject({ lastSeq: 2, oldestSeq: 1 });
    const rep = await call(r, 'POST', '/v1/_replication/replicate', { term: 1, primaryId: 'n1', commitSeq: 2, prevSeq: 0, prevTerm: 0, entries: wal.entries, truncate: true });
    expect(rep).toMatchObject({ status: 200, body: { ok: true, term: 1, lastSeq: 2, lastTerm: 1, rolledBack: 0 } });
    expect((await call(r, 'GET', '/v1/db/d/docs/x')).body).toEqual((await call(p, 'GET', '/v1/db/d/docs/x')).body);
    expect((await call(r, 'GET', '/v1/_replication/state')).body).toMatchObject({ nodeId: 'n2', role: 'replica', lastSeq: 2, commitSeq: 2, ready: true });
    const gap = await call(r, 'POST', '/v1/_replication/replicate', { term: 1, primaryId: 'n1', commitSeq: 2, prevSeq: 5, prevTerm: 1, entries: [] });
    expect(gap).toMatchObject({ status: 409, body: { error: 'gap', lastSeq: 2, lastTerm: 1, mismatch: false } });
    expect((await call(r, 'GET', '/v1/_replication/wal?since=1&meta=1')).body.entries).toEqual([expect.objectContaining({ seq: 2, doc: null })]);
    expect(await call(r, 'GET', '/v1/_replication/wal?limit=10001')).toMatchObject({ status: 400 });

    expect((await call(r, 'POST', '/v1/_replication/vote', { term: 2, candidateId: 'n2', lastTerm: 1, lastSeq: 2 })).body).toMatchObject({ granted: true, term: 2 });
    expect(await call(r, 'POST', '/v1/_replication/promote', { term: 3 })).toMatchObject({ status: 409, body: { error: 'stale_term' } });
    expect((await call(r, 'POST', '/v1/_replication/promote', { term: 2 })).body).toEqual({ ok: true, role: 'primary', term: 2, lastSeq: 3 });
    // The deposed primary is fenced by the higher term.
    const fenced = await call(r, 'POST', '/v1/_replication/replicate', { term: 1, primaryId: 'n1', commitSeq: 2, prevSeq: 2, prevTerm: 1, entries: [] });
    expect(fenced).toMatchObject({ status: 409, body: { error: 'stale_term', term: 2 } });
  });

  it('snapshot: GET streams NDJSON, POST installs it all-or-nothing', async () => {
    const r = await node('n2');
    await call(p, 'PUT', '/v1/db/d');
    for (let i = 0; i < 5; i++) await call(p, 'PUT', `/v1/db/d/docs/k${i}`, { data: { i }, content: `text ${i}` });
    const snap = await p.app.inject({ method: 'GET', url: '/v1/_replication/snapshot', headers: auth });
    expect(snap.headers['content-type']).toMatch(/application\/x-ndjson/);
    const lines = snap.body.trim().split('\n');
    expect(JSON.parse(lines.at(-1)!)).toEqual({ type: 'end', seq: 6, term: 1, docs: 5, dbs: 1 });

    const cut = await r.app.inject({ method: 'POST', url: '/v1/_replication/snapshot?term=1&primaryId=n1', headers: { ...auth, 'content-type': 'application/x-ndjson' }, payload: lines.slice(0, -1).join('\n') });
    expect([cut.statusCode, cut.json().error]).toEqual([400, 'bad_request']);
    expect((await call(r, 'GET', '/v1/db')).body.dbs).toEqual([]);

    const ok = await r.app.inject({ method: 'POST', url: '/v1/_replication/snapshot?term=1&primaryId=n1', headers: { ...auth, 'content-type': 'application/x-ndjson' }, payload: snap.body });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ lastSeq: 6, oldestSeq: 7, role: 'replica', primaryId: 'n1', ready: true });
    // A copy serves committed reads only: it reads nothing until it learns a commit point at or above its snapshot.
    expect((await call(r, 'GET', '/v1/db/d/_all_docs', undefined, { 'x-tessera-commit': '0' })).status).toBe(503);
    // The router's next batch tells it (an empty one, as a heartbeat).
    expect((await call(r, 'POST', '/v1/_replication/replicate', { term: 1, primaryId: 'n1', commitSeq: 6, prevSeq: 6, prevTerm: 1, entries: [] })).status).toBe(200);
    const list = async (n: Node) => (await call(n, 'GET', '/v1/db/d/_all_docs?includeDeleted=true')).body;
    expect(await list(r)).toEqual(await list(p));
    expect((await call(r, 'GET', '/v1/_replication/wal?since=3')).status).toBe(410);
  });

  it('snapshot install streams in chunks and refuses duplicates, trailing lines and stale terms without a trace', async () => {
    const r = await node('n2');
    await call(p, 'PUT', '/v1/db/big');
    const docs = Array.from({ length: 2500 }, (_, i) => ({ id: `k${String(i).padStart(5, '0')}`, data: { i }, ...(i % 7 === 0 ? { content: `needle ${i}` } : {}) }));
    expect((await call(p, 'POST', '/v1/db/big/_bulk_docs', { docs })).status).toBe(200);
    const snap = (await p.app.inject({ method: 'GET', url: '/v1/_replication/snapshot', headers: auth })).body;
    const lines = snap.trim().split('\n');
    const install = (payload: string, term = 1) => r.app.inject({
      method: 'POST', url: `/v1/_replication/snapshot?term=${term}&primaryId=n1`, headers: { ...auth, 'content-type': 'application/x-ndjson' }, payload,
    });
    const dup = await install([...lines.slice(0, 2), lines[1], ...lines.slice(2)].join('\n'));
    expect([dup.statusCode, dup.json().error]).toEqual([400, 'bad_request']);
    const trailing = await install(`${snap}${lines[1]}\n`);
    expect(trailing.statusCode).toBe(400);
    r.store.vote({ term: 3, candidateId: 'n3', lastTerm: 0, lastSeq: 0 });
    const stale = await install(snap, 2);
    expect([stale.statusCode, stale.json().error]).toEqual([409, 'stale_term']);
    expect((await call(r, 'GET', '/v1/db')).body.dbs).toEqual([]);

    const ok = await install(snap, 3);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ term: 3, primaryId: 'n1', lastSeq: 2501, oldestSeq: 2502 });
    expect((await call(r, 'POST', '/v1/_replication/replicate', { term: 3, primaryId: 'n1', commitSeq: 2501, prevSeq: 2501, prevTerm: 1, entries: [] })).status).toBe(200);
    const page = (n: Node) => call(n, 'GET', '/v1/db/big/_all_docs?limit=1000&startAfter=k01000');
    expect((await page(r)).body).toEqual((await page(p)).body);
    expect((await call(r, 'GET', '/v1/db/big')).body.docCount).toBe(2500);
    expect((await call(r, 'GET', '/v1/db/big/_search?q=needle')).body.total).toBe(Math.ceil(2500 / 7));
  });
});
