import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MAX_SEQ, MAX_TERM, MAX_TERM_STEP } from '../../src/core/bounds.ts';
import { parseConfig } from '../../src/core/config/index.ts';
import { shardFor } from '../../src/core/hash.ts';
import type { LogEntry } from '../../src/core/protocol.ts';
import { build } from '../../shard/app.ts';
import { GroupCommit, Store } from '../../shard/store/index.ts';

// Internal endpoints that cannot wedge or fork a shard (issue 12): terms,
// seqs and commit points are bounded, a term moves by a bounded step, a
// re-delivered entry must be the same entry, and a node holds only its own
// shard's documents. Each case is a request holding the cluster secret.

const root = mkdtempSync(join(tmpdir(), 'tessera-bounds-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const SECRET = 'bounds-secret';
// Two shards, so some ids belong to the other one.
const config = parseConfig({
  cluster: { name: 't', secret: SECRET },
  router: { url: 'http://127.0.0.1:17200' },
  shards: [
    { id: 0, nodes: [{ id: 'a', url: 'http://127.0.0.1:17201' }, { id: 'b', url: 'http://127.0.0.1:17202' }, { id: 'c', url: 'http://127.0.0.1:17203' }] },
    { id: 1, nodes: [{ id: 'd', url: 'http://127.0.0.1:17204' }, { id: 'e', url: 'http://127.0.0.1:17205' }, { id: 'f', url: 'http://127.0.0.1:17206' }] },
  ],
}, { baseDir: root, env: {} });

const mine = (n: number) => Array.from({ length: 200 }, (_, i) => `doc${i}`).filter((id) => shardFor(id, 2) === 0).slice(0, n);
const other = Array.from({ length: 200 }, (_, i) => `doc${i}`).find((id) => shardFor(id, 2) === 1)!;

const open: Array<{ app: FastifyInstance; store: Store }> = [];
let n = 0;
async function node(id: 'a' | 'b') {
  const store = new Store({ path: join(root, `${id}-${n++}.db`), nodeId: id, shardId: 0, initial: { role: id === 'a' ? 'primary' : 'replica', primaryId: 'a', joined: true }, walRetention: 1000 });
  const app = await build({ store, commit: new GroupCommit(store), config });
  open.push({ app, store });
  return { app, store };
}
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.app.close();
    o.store.close();
  }
});

const auth = { authorization: `Bearer ${SECRET}` };
async function post(app: FastifyInstance, url: string, payload: object, headers: Record<string, string> = {}, method: 'POST' | 'PUT' = 'POST') {
  const res = await app.inject({ method, url, payload, headers: { ...auth, ...headers } });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

const put = (seq: number, term: number, id: string, rev: string): LogEntry => ({
  seq, term, op: 'put', db: 'd', id, rev, doc: { id, rev, data: { v: rev } }, ts: 1,
});
const dbCreate: LogEntry = { seq: 1, term: 1, op: 'db_create', db: 'd', id: '', rev: '', doc: null, ts: 1 };

describe('terms and seqs are bounded', () => {
  it('a vote at 2^53, at 1e16 or above MAX_TERM is 400 and leaves the term alone', async () => {
    const { app, store } = await node('b');
    for (const term of [2 ** 53, 1e16, MAX_TERM + 1]) {
      const r = await post(app, '/v1/_replication/vote', { term, candidateId: 'x', lastTerm: 1, lastSeq: 0 });
      expect([r.status, r.body.error], String(term)).toEqual([400, 'bad_request']);
    }
    expect(store.meta().term).toBe(1);
  });

  it('a term more than MAX_TERM_STEP above the node\'s is 400 (vote, replicate, snapshot install); a step within it is taken', async () => {
    const { app, store } = await node('b');
    const far = 1 + MAX_TERM_STEP + 1;
    const vote = await post(app, '/v1/_replication/vote', { term: far, candidateId: 'x', lastTerm: 1, lastSeq: 0 });
    expect([vote.status, vote.body.message]).toEqual([400, expect.stringMatching(/more than 4294967296 above/)]);
    const rep = await post(app, '/v1/_replication/replicate', { term: far, primaryId: 'x', commitSeq: 0, prevSeq: 0, prevTerm: 0, entries: [] });
    expect(rep.status).toBe(400);
    const snap = await app.inject({ method: 'POST', url: `/v1/_replication/snapshot?term=${far}&primaryId=x`, payload: '', headers: { ...auth, 'content-type': 'application/x-ndjson' } });
    expect(snap.statusCode).toBe(400);
    expect(store.meta().term).toBe(1);
    // The largest allowed step is a normal vote.
    const ok = await post(app, '/v1/_replication/vote', { term: 1 + MAX_TERM_STEP, candidateId: 'x', lastTerm: 1, lastSeq: 0 });
    expect([ok.status, ok.body.granted]).toEqual([200, true]);
    expect(store.meta().term).toBe(1 + MAX_TERM_STEP);
  });

  it('seqs and commit points above MAX_SEQ are 400, in bodies, headers and queries', async () => {
    const { app, store } = await node('a');
    const rep = await post(app, '/v1/_replication/replicate', { term: 2, primaryId: 'x', commitSeq: MAX_SEQ + 1, prevSeq: 0, prevTerm: 0, entries: [] });
    expect(rep.status).toBe(400);
    for (const [name, value] of [['x-tessera-commit', '9999999999999999'], ['x-tessera-commit', String(MAX_SEQ + 1)], ['x-tessera-term', '999999999999999'], ['x-tessera-keep', '9999999999999999']]) {
      const r = await app.inject({ method: 'PUT', url: '/v1/db/d', headers: { ...auth, [name!]: value! } });
      expect(r.statusCode, `${name}: ${value}`).toBe(400);
    }
    // 9999999999999999 on any request deposed the primary before: it is still primary.
    const state = await app.inject({ method: 'GET', url: '/v1/_replication/state', headers: { ...auth, 'x-tessera-commit': '9999999999999999' } });
    expect(state.statusCode).toBe(400);
    expect(store.meta().role).toBe('primary');
    const wal = await app.inject({ method: 'GET', url: `/v1/_replication/wal?since=${MAX_SEQ + 1}`, headers: auth });
    expect(wal.statusCode).toBe(400);
  });
});

describe('a re-delivered entry must be the same entry', () => {
  it('a forged entry at the real one\'s (seq, term) is not skipped: the node flags itself for a snapshot', async () => {
    const { app, store } = await node('b');
    const [id] = mine(1);
    const base = { term: 1, primaryId: 'a', commitSeq: 0 };
    expect((await post(app, '/v1/_replication/replicate', { ...base, prevSeq: 0, prevTerm: 0, entries: [dbCreate] })).status).toBe(200);
    // The forged entry matches (prevSeq, prevTerm) and is appended: the node cannot know yet.
    expect((await post(app, '/v1/_replication/replicate', { ...base, prevSeq: 1, prevTerm: 1, entries: [put(2, 1, id!, '1-forged')] })).status).toBe(200);
    // The same entry again is a re-delivery.
    expect((await post(app, '/v1/_replication/replicate', { ...base, prevSeq: 1, prevTerm: 1, entries: [put(2, 1, id!, '1-forged')] })).status).toBe(200);
    // The real entry has the same (seq, term) and another rev: gap, needs a snapshot (the router then installs one).
    const real = await post(app, '/v1/_replication/replicate', { ...base, prevSeq: 1, prevTerm: 1, entries: [put(2, 1, id!, '1-real')] });
    expect([real.status, real.body.error, real.body.needsSnapshot, real.body.mismatch]).toEqual([409, 'gap', true, true]);
    expect(store.meta().needsSnapshot).toBe(true);
    expect(store.notReadyReason()).toBe('needs a snapshot');
  });
});

describe('a node refuses documents of another shard', () => {
  it('PUT, POST with an id, DELETE and replicate entries of another shard are 400; bulk marks just that doc', async () => {
    const { app, store } = await node('a');
    expect((await app.inject({ method: 'PUT', url: '/v1/db/d', headers: auth })).statusCode).toBe(201);
    const putRes = await app.inject({ method: 'PUT', url: `/v1/db/d/docs/${other}`, payload: { data: {} }, headers: auth });
    expect([putRes.statusCode, putRes.json().message]).toEqual([400, expect.stringMatching(/belongs to another shard/)]);
    expect((await post(app, '/v1/db/d/docs', { id: other, data: {} })).status).toBe(400);
    const del = await app.inject({ method: 'DELETE', url: `/v1/db/d/docs/${other}?rev=1-${'a'.repeat(40)}`, headers: auth });
    expect(del.statusCode).toBe(400);
    const [a, b] = mine(2);
    const bulk = await post(app, '/v1/db/d/_bulk_docs', { docs: [{ id: a, data: {} }, { id: other, data: {} }, { id: b, data: {} }] });
    const results = bulk.body.results as Array<Record<string, unknown>>;
    expect(results.map((r) => r.ok ?? r.error)).toEqual([true, 'bad_request', true]);
    // An id the node makes up lands on its own shard.
    for (let i = 0; i < 10; i++) {
      const made = await post(app, '/v1/db/d/docs', { data: {} });
      expect(shardFor(made.body.id as string, 2)).toBe(0);
    }
    const { app: replica } = await node('b');
    const rep = await post(replica, '/v1/_replication/replicate', { term: 1, primaryId: 'a', commitSeq: 0, prevSeq: 0, prevTerm: 0, entries: [dbCreate, put(2, 1, other, '1-x')] });
    expect([rep.status, rep.body.path]).toEqual([400, 'body.entries[1].id']);
    // As of the log's end: the test drives the replica alone, no router tells it a commit point.
    expect(store.listDbs(store.last().seq)).toEqual(['d']);
  });
});
