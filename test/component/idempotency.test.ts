import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { build as buildRouter } from '../../router/app.ts';
import { docIdForKey } from '../../router/api/scatter.ts';
import { HealthMonitor } from '../../router/failover/health-monitor.ts';
import { Shards } from '../../router/replication/shards.ts';
import { systemClock } from '../../src/core/clock.ts';
import { parseConfig, type Config } from '../../src/core/config/index.ts';
import { createLogger } from '../../src/core/logger.ts';
import { IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_PATTERN, REPLICATION_PREFIX, type LogEntry, type NodeState, type ReplicateRequest, type Role } from '../../src/core/protocol.ts';
import { build } from '../../shard/app.ts';
import { GroupCommit, Store } from '../../shard/store/index.ts';

// Idempotency-Key end to end (DESIGN §4 "a retry with the same key (any
// router) is answered like the first attempt and applied at most once"):
// on real node apps over real Stores (the record is kept with the write's
// last log entry, travels with it to every copy, survives a restart and a
// failover), and on a real router over fake nodes (a keyed POST without an
// id gets an id derived from the key, so a retry names the same document).
// One file over ~400 lines on purpose: it is one feature followed end to end,
// and the router half needs its own fake node (router-app.test.ts keeps its
// FakeNode private).

const root = mkdtempSync(join(tmpdir(), 'tessera-idempotency-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SECRET = 'idempotency-secret';
const auth = { authorization: `Bearer ${SECRET}` };

// ---------------------------------------------------------------------------
// Node level
// ---------------------------------------------------------------------------

const nodeConfig = parseConfig({
  cluster: { name: 't', secret: SECRET },
  router: { url: 'http://127.0.0.1:17300' },
  replication: { writeQuorum: 2 },
  shards: [{ id: 0, nodes: [{ id: 'n1', url: 'http://127.0.0.1:17301' }, { id: 'n2', url: 'http://127.0.0.1:17302' }, { id: 'n3', url: 'http://127.0.0.1:17303' }] }],
}, { baseDir: root, env: {} });

interface Node {
  app: FastifyInstance;
  store: Store;
}
const nodes: Node[] = [];
let files = 0;

/** A node app over a Store at `path`; ids it makes up name the node, so a re-run on another node shows. */
async function node(nodeId: string, role: Role, path = join(root, `${nodeId}-${files++}.db`)): Promise<Node> {
  const store = new Store({ path, nodeId, shardId: 0, initial: { role, primaryId: 'n1', joined: true }, walRetention: 10_000 });
  let ids = 0;
  const app = await build({ store, commit: new GroupCommit(store), config: nodeConfig, newId: () => `${nodeId}-gen${ids++}` });
  const n = { app, store };
  nodes.push(n);
  return n;
}

async function stop(n: Node): Promise<void> {
  nodes.splice(nodes.indexOf(n), 1);
  await n.app.close();
  n.store.close();
}

interface Answer {
  status: number;
  /** A JSON answer of many shapes: the assertions say what it must hold. */
  body: any;
  headers: Record<string, unknown>;
}

async function call(n: Node, method: InjectOptions['method'], url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await n.app.inject({ method, url, headers: { ...auth, ...headers }, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null, headers: res.headers };
}

/** A write as the router sends it: stamped with the node's term, with the client's key when given. */
function write(n: Node, method: InjectOptions['method'], url: string, body?: unknown, key?: string, extra: Record<string, string> = {}): Promise<Answer> {
  return call(n, method, url, body, { 'x-tessera-term': String(n.store.meta().term), ...(key === undefined ? {} : { [IDEMPOTENCY_HEADER]: key }), ...extra });
}

/** A stamped answer without the entries it appended (the router strips them; the rest is the client's answer). */
function answer(a: Answer): { status: number; body: Record<string, unknown> } {
  const { entries: _entries, ...body } = a.body as Record<string, unknown>;
  return { status: a.status, body };
}

/** The document as the store holds it, read at the end of its log. */
function head(n: Node, db: string, id: string): Record<string, unknown> | null {
  const r = n.store.getDoc(db, id, undefined, n.store.last().seq);
  return r.body === null ? null : JSON.parse(r.body) as Record<string, unknown>;
}

/** Sends `from`'s entries after `prevSeq` to `to` the way the router would (as in shard-store.test.ts). */
function ship(from: Store, to: Store, prevSeq: number, opts: Partial<ReplicateRequest> = {}) {
  const all = from.entries(0);
  const entries = all.filter((e) => e.seq > prevSeq);
  const prevTerm = prevSeq === 0 ? 0 : all.find((e) => e.seq === prevSeq)!.term;
  const st = from.state();
  return to.replicate({ term: st.term, primaryId: from.nodeId, commitSeq: st.commitSeq, prevSeq, prevTerm, entries, truncate: true, ...opts });
}

/** The router's election at the node level: the candidate's own vote, then promote. */
async function elect(n: Node, term: number): Promise<void> {
  const last = n.store.last();
  const vote = await call(n, 'POST', `${REPLICATION_PREFIX}/vote`, { term, candidateId: n.store.nodeId, lastTerm: last.term, lastSeq: last.seq });
  expect(vote.body, JSON.stringify(vote.body)).toMatchObject({ granted: true, term });
  const promoted = await call(n, 'POST', `${REPLICATION_PREFIX}/promote`, { term });
  expect(promoted.body).toMatchObject({ ok: true, role: 'primary', term });
}

afterEach(async () => {
  for (const n of nodes.splice(0)) {
    await n.app.close();
    n.store.close();
  }
});

describe('Idempotency-Key on a node: a retry is answered like the first attempt', () => {
  it('the same key and request twice: the first answer again (status, rev, seq), no second log entry; still so after someone else updated the doc', async () => {
    const p = await node('n1', 'primary');
    await write(p, 'PUT', '/v1/db/d');
    const first = await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }, 'k-put');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ id: 'x', data: { v: 1 }, seq: 2 });
    // The record rides on the write's (last) entry, which is what the router relays.
    expect(first.body.entries).toHaveLength(1);
    expect(first.body.entries[0].idem).toMatchObject({ key: 'k-put', status: 201 });
    expect(JSON.parse(first.body.entries[0].idem.body)).toEqual(answer(first).body);
    const logEnd = p.store.last().seq;

    const again = await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }, 'k-put');
    expect(answer(again)).toEqual(answer(first));
    expect(again.body.entries).toEqual([]);
    expect(p.store.last().seq).toBe(logEnd);

    // Someone else moves the document on; an unkeyed re-send of the first write is now a 409...
    const other = await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 2 }, rev: first.body.rev });
    expect(other.status).toBe(200);
    expect((await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } })).status).toBe(409);
    // ...but the keyed retry is still answered as the first attempt was, and changes nothing.
    const late = await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }, 'k-put');
    expect(answer(late)).toEqual(answer(first));
    expect(late.body.entries).toEqual([]);
    expect(p.store.last().seq).toBe(logEnd + 1);
    expect(head(p, 'd', 'x')).toMatchObject({ rev: other.body.rev, data: { v: 2 } });

    // Unstamped (an operator straight at the node): the answers are byte-for-byte the same body.
    const u1 = await call(p, 'PUT', '/v1/db/d/docs/u', { data: {} }, { [IDEMPOTENCY_HEADER]: 'k-unstamped' });
    const u2 = await call(p, 'PUT', '/v1/db/d/docs/u', { data: {} }, { [IDEMPOTENCY_HEADER]: 'k-unstamped' });
    expect([u2.status, u2.body]).toEqual([u1.status, u1.body]);
  });

  it('every kind of write: POST without id, DELETE, _bulk_docs and db create answer a keyed retry like the first time', async () => {
    const p = await node('n1', 'primary');
    const db1 = await write(p, 'PUT', '/v1/db/d', undefined, 'k-db');
    expect(db1.status).toBe(201);
    // Unkeyed, a second create is a 200 no-op; keyed, it is the first answer (201).
    expect((await write(p, 'PUT', '/v1/db/d')).status).toBe(200);
    expect(answer(await write(p, 'PUT', '/v1/db/d', undefined, 'k-db'))).toEqual(answer(db1));

    // The node makes up the id; the retry gets the same document, not a second one.
    const post1 = await write(p, 'POST', '/v1/db/d/docs', { data: { a: 1 } }, 'k-post');
    expect(post1.status).toBe(201);
    const end1 = p.store.last().seq;
    const post2 = await write(p, 'POST', '/v1/db/d/docs', { data: { a: 1 } }, 'k-post');
    expect(answer(post2)).toEqual(answer(post1));
    expect(p.store.last().seq).toBe(end1);
    expect(JSON.parse(p.store.allDocsJson('d', { skip: 0, limit: 10, includeDeleted: true }, end1)).total).toBe(1);

    const bulk = { docs: [{ data: { b: 1 } }, { id: 'b2', data: { b: 2 } }, { id: 'b2', data: { b: 'conflicts' } }] };
    const bulk1 = await write(p, 'POST', '/v1/db/d/_bulk_docs', bulk, 'k-bulk');
    expect(bulk1.status).toBe(200);
    expect(bulk1.body.results.map((r: { ok?: boolean; error?: string }) => r.ok ?? r.error)).toEqual([true, true, 'conflict']);
    const end2 = p.store.last().seq;
    const bulk2 = await write(p, 'POST', '/v1/db/d/_bulk_docs', bulk, 'k-bulk');
    expect(answer(bulk2)).toEqual(answer(bulk1));
    expect(p.store.last().seq).toBe(end2);

    const id = post1.body.id as string;
    const del1 = await write(p, 'DELETE', `/v1/db/d/docs/${id}?rev=${post1.body.rev as string}`, undefined, 'k-del');
    expect(del1.status).toBe(200);
    // Re-created since: an unkeyed re-send of the delete would now conflict; the keyed retry does not.
    await write(p, 'PUT', `/v1/db/d/docs/${id}`, { data: { again: true } });
    const end3 = p.store.last().seq;
    expect((await write(p, 'DELETE', `/v1/db/d/docs/${id}?rev=${post1.body.rev as string}`)).status).toBe(409);
    expect(answer(await write(p, 'DELETE', `/v1/db/d/docs/${id}?rev=${post1.body.rev as string}`, undefined, 'k-del'))).toEqual(answer(del1));
    expect(p.store.last().seq).toBe(end3);
  });

  it('two attempts with one key at once: one write, both answered alike; another request with the key is 422', async () => {
    const p = await node('n1', 'primary');
    await write(p, 'PUT', '/v1/db/d');
    const logEnd = p.store.last().seq;
    const [a, b] = await Promise.all([
      write(p, 'POST', '/v1/db/d/docs', { data: { c: 1 } }, 'k-race'),
      write(p, 'POST', '/v1/db/d/docs', { data: { c: 1 } }, 'k-race'),
    ]);
    expect(a.status).toBe(201);
    expect(answer(b)).toEqual(answer(a));
    expect([a.body.entries.length, b.body.entries.length]).toEqual([1, 0]);
    expect(p.store.last().seq).toBe(logEnd + 1);
    const [c, d] = await Promise.all([
      write(p, 'PUT', '/v1/db/d/docs/r', { data: { v: 1 } }, 'k-race2'),
      write(p, 'PUT', '/v1/db/d/docs/r', { data: { v: 2 } }, 'k-race2'),
    ]);
    expect([c.status, d.status, d.body.error]).toEqual([201, 422, 'idempotency_key_reused']);
    expect(head(p, 'd', 'r')).toMatchObject({ data: { v: 1 } });
    expect(p.store.last().seq).toBe(logEnd + 2);
  });

  it('a keyed POST retry straight at a node: Location names the document of the first answer, not a freshly made-up id', async () => {
    const p = await node('n1', 'primary');
    await write(p, 'PUT', '/v1/db/d');
    const post1 = await write(p, 'POST', '/v1/db/d/docs', { data: { a: 1 } }, 'k-post');
    expect([post1.status, post1.body.id, post1.headers.location]).toEqual([201, 'n1-gen0', '/v1/db/d/docs/n1-gen0']);
    const post2 = await write(p, 'POST', '/v1/db/d/docs', { data: { a: 1 } }, 'k-post');
    expect(answer(post2)).toEqual(answer(post1));
    // DESIGN §4: POST answers 201 with Location; a retry is answered exactly like the first attempt.
    expect(post2.headers.location).toBe(post1.headers.location);
  });

  it('the same key with another request (body, path, method, If-Match) is 422 idempotency_key_reused and changes nothing', async () => {
    const p = await node('n1', 'primary');
    await write(p, 'PUT', '/v1/db/d');
    const first = await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }, 'k1');
    expect(first.status).toBe(201);
    const logEnd = p.store.last().seq;
    const reuses: Array<[string, InjectOptions['method'], string, unknown, Record<string, string>]> = [
      ['other body', 'PUT', '/v1/db/d/docs/x', { data: { v: 9 } }, {}],
      ['other path', 'PUT', '/v1/db/d/docs/y', { data: { v: 1 } }, {}],
      ['other method and path', 'POST', '/v1/db/d/docs', { id: 'x', data: { v: 1 } }, {}],
      ['a delete', 'DELETE', `/v1/db/d/docs/x?rev=${first.body.rev as string}`, undefined, {}],
      ['other If-Match', 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }, { 'if-match': `"${first.body.rev as string}"` }],
      ['another db op', 'PUT', '/v1/db/e', undefined, {}],
    ];
    for (const [what, method, url, body, extra] of reuses) {
      const res = await write(p, method, url, body, 'k1', extra);
      expect([res.status, res.body.ok, res.body.error], what).toEqual([422, false, 'idempotency_key_reused']);
      expect(typeof res.body.message, what).toBe('string');
    }
    expect(p.store.last().seq).toBe(logEnd);
    expect(head(p, 'd', 'x')).toMatchObject({ rev: first.body.rev, data: { v: 1 } });
    expect(head(p, 'd', 'y')).toBeNull();
    expect(p.store.listDbs(p.store.last().seq)).toEqual(['d']);
    // The key still names its first request.
    expect(answer(await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }, 'k1'))).toEqual(answer(first));

    // A keyed write that appended nothing (a 409) keeps no record (shard/store/writes.ts #keyed):
    // it had no effect, so the key may still name a request that does.
    const stale = `1-${'0'.repeat(40)}`;
    expect((await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 5 }, rev: stale }, 'k2')).status).toBe(409);
    expect((await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 5 }, rev: first.body.rev }, 'k2')).status).toBe(200);
  });

  it('a malformed key (a space, over 200 characters) is 400 naming headers.idempotency-key; 200 printable characters are fine', async () => {
    const p = await node('n1', 'primary');
    await write(p, 'PUT', '/v1/db/d');
    const logEnd = p.store.last().seq;
    for (const bad of ['has space', 'x'.repeat(201), ' lead']) {
      for (const [method, url, body] of [['PUT', '/v1/db/d/docs/x', { data: {} }], ['POST', '/v1/db/d/_bulk_docs', { docs: [{ data: {} }] }], ['PUT', '/v1/db/e', undefined]] as const) {
        const res = await write(p, method, url, body, bad);
        expect([res.status, res.body.error, res.body.path], `${method} ${url} key ${JSON.stringify(bad)}`).toEqual([400, 'bad_request', 'headers.idempotency-key']);
      }
    }
    expect(p.store.last().seq).toBe(logEnd);
    const longest = '~'.repeat(199) + '!';
    expect(IDEMPOTENCY_KEY_PATTERN.test(longest)).toBe(true);
    expect((await write(p, 'PUT', '/v1/db/d/docs/x', { data: {} }, longest)).status).toBe(201);
  });

  it('exactly once across failovers: the record replicates with its entry, a promoted copy answers the retry, a rolled-back keyed write runs again once', async () => {
    const p = await node('n1', 'primary');
    const r = await node('n2', 'replica');
    const relayed: LogEntry[] = [];
    const w = async (method: InjectOptions['method'], url: string, body?: unknown, key?: string) => {
      const a = await write(p, method, url, body, key);
      expect(a.status, JSON.stringify(a.body)).toBeLessThan(300);
      relayed.push(...(a.body.entries as LogEntry[]));
      return a;
    };
    await w('PUT', '/v1/db/d');
    const put = await w('PUT', '/v1/db/d/docs/x', { data: { v: 1 } }, 'k-put');
    const post = await w('POST', '/v1/db/d/docs', { data: { a: 1 } }, 'k-post');
    expect(post.body.id).toBe('n1-gen0');
    // The router relays the entries of the write answers (records included) over HTTP.
    const batch = await call(r, 'POST', `${REPLICATION_PREFIX}/replicate`, { term: 1, primaryId: 'n1', commitSeq: 3, prevSeq: 0, prevTerm: 0, entries: relayed, truncate: true });
    expect(batch.body).toMatchObject({ ok: true, lastSeq: 3 });
    expect(r.store.entries(0).filter((e) => e.idem).map((e) => [e.seq, e.idem!.key])).toEqual([[2, 'k-put'], [3, 'k-post']]);
    // The primary's WAL (what a copy catching up reads) carries the same records in its entries.
    expect((await call(p, 'GET', `${REPLICATION_PREFIX}/wal?since=0&limit=10`)).body.entries).toEqual(relayed);
    // n1 takes one more keyed write that reaches nobody, then is lost.
    const lost = await write(p, 'PUT', '/v1/db/d/docs/z', { data: { v: 1 } }, 'k-lost');
    expect([lost.status, lost.body.seq]).toEqual([201, 4]);
    const lost2 = await write(p, 'PUT', '/v1/db/d/docs/q', { data: { v: 1 } }, 'k-lost2');
    expect([lost2.status, lost2.body.seq]).toEqual([201, 5]);

    await elect(r, 2); // noop at 4
    const putAtR = await write(r, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }, 'k-put');
    expect(answer(putAtR)).toEqual(answer(put));
    const postAtR = await write(r, 'POST', '/v1/db/d/docs', { data: { a: 1 } }, 'k-post');
    expect(answer(postAtR)).toEqual(answer(post));
    expect(r.store.last()).toEqual({ seq: 4, term: 2 });
    expect((await write(r, 'PUT', '/v1/db/d/docs/x', { data: { v: 'other' } }, 'k-put')).status).toBe(422);
    // The lost write never reached n2: its retry runs here, once.
    const lostAtR = await write(r, 'PUT', '/v1/db/d/docs/z', { data: { v: 1 } }, 'k-lost');
    expect([lostAtR.status, lostAtR.body.seq]).toEqual([201, 5]);
    expect(answer(await write(r, 'PUT', '/v1/db/d/docs/z', { data: { v: 1 } }, 'k-lost'))).toEqual(answer(lostAtR));
    expect(r.store.last().seq).toBe(5);

    // n1 comes back: its entries 4..5 (and its records of k-lost, k-lost2) are rolled back, n2's entries and records arrive.
    expect(ship(r.store, p.store, 3)).toMatchObject({ ok: true, rolledBack: 2, lastSeq: 5 });
    await elect(p, 3); // noop at 6
    // Every key answers as its one effective run did — k-lost as at n2 (seq 5), not n1's rolled-back seq 4.
    expect(answer(await write(p, 'PUT', '/v1/db/d/docs/z', { data: { v: 1 } }, 'k-lost'))).toEqual(answer(lostAtR));
    expect(answer(await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }, 'k-put'))).toEqual(answer(put));
    expect(answer(await write(p, 'POST', '/v1/db/d/docs', { data: { a: 1 } }, 'k-post'))).toEqual(answer(post));
    expect(p.store.last()).toEqual({ seq: 6, term: 3 });
    // k-lost2 never took effect anywhere: n1 must not answer its rolled-back "201 at seq 5"; the retry runs, once.
    expect(head(p, 'd', 'q')).toBeNull();
    const lost2AtP = await write(p, 'PUT', '/v1/db/d/docs/q', { data: { v: 1 } }, 'k-lost2');
    expect([lost2AtP.status, lost2AtP.body.seq, lost2AtP.body.entries.length]).toEqual([201, 7, 1]);
    expect(head(p, 'd', 'q')).toMatchObject({ data: { v: 1 } });
  });

  it('a copy rebuilt from a snapshot answers a retry like the first time once it is primary', async () => {
    const p = await node('n1', 'primary');
    await write(p, 'PUT', '/v1/db/d');
    const first = await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }, 'k-snap');
    await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 2 }, rev: first.body.rev });
    const r = await node('n2', 'replica');
    const lines = [...p.store.snapshotLines()].join('').trim().split('\n').map((l) => JSON.parse(l));
    r.store.installSnapshot(lines, 1, 'n1');
    expect(r.store.state()).toMatchObject({ lastSeq: 3, oldestSeq: 4 });
    await elect(r, 2);
    const retry = await write(r, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }, 'k-snap');
    expect(answer(retry)).toEqual(answer(first));
    expect(r.store.last().seq).toBe(4);
  });

  it('the key survives a restart of the node (Store closed and reopened on its file)', async () => {
    const path = join(root, `restart-${files++}.db`);
    const p = await node('n1', 'primary', path);
    await write(p, 'PUT', '/v1/db/d');
    const first = await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }, 'k-restart');
    const post = await write(p, 'POST', '/v1/db/d/docs', { data: {} }, 'k-restart-post');
    await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 2 }, rev: first.body.rev });
    const logEnd = p.store.last().seq;
    await stop(p);

    const again = await node('n1', 'primary', path);
    expect(again.store.last().seq).toBe(logEnd);
    expect(answer(await write(again, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }, 'k-restart'))).toEqual(answer(first));
    expect(answer(await write(again, 'POST', '/v1/db/d/docs', { data: {} }, 'k-restart-post'))).toEqual(answer(post));
    expect((await write(again, 'PUT', '/v1/db/d/docs/x', { data: { v: 3 } }, 'k-restart')).status).toBe(422);
    expect(again.store.last().seq).toBe(logEnd);
  });
});

// ---------------------------------------------------------------------------
// Router level: the id of a keyed POST
// ---------------------------------------------------------------------------

describe('docIdForKey', () => {
  it('is a routable 20-character id, the same for the same key and different for different keys', () => {
    const keys = Array.from({ length: 500 }, (_, i) => `key-${i}`);
    const ids = keys.map(docIdForKey);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(new Set(ids).size).toBe(keys.length);
    expect(keys.map(docIdForKey)).toEqual(ids);
    expect(docIdForKey('k')).not.toBe(docIdForKey('k#0'));
    expect(docIdForKey('~'.repeat(200))).toMatch(/^[A-Za-z0-9]{20}$/);
  });
});

const WRITE_TIMEOUT_MS = 400;

interface SentWrite {
  method: string;
  url: string;
  body: Record<string, unknown> | undefined;
  key: string | undefined;
}

/** A shard node faked just enough for the router: state, relay, and document writes it records. */
class FakeNode {
  readonly id: string;
  readonly app: FastifyInstance;
  url = '';
  state: NodeState;
  log: LogEntry[] = [];
  hangReplicate = false;
  sent: SentWrite[] = [];

  constructor(id: string, role: 'primary' | 'replica') {
    this.id = id;
    this.state = {
      nodeId: id, shardId: 0, role, term: 1, votedFor: null, primaryId: role === 'primary' ? id : null,
      lastSeq: 0, lastTerm: 0, commitSeq: 0, oldestSeq: 1, ready: true, rollbackCount: 0,
    };
    this.app = Fastify({ forceCloseConnections: true });
    this.app.addHook('onRequest', async (req, reply) => {
      if (req.headers.authorization !== `Bearer ${SECRET}`) return reply.status(401).send({ ok: false, error: 'unauthorized', message: 'no' });
    });
    this.app.get('/v1/_replication/state', async () => this.state);
    this.app.get<{ Querystring: { since: string; limit: string } }>('/v1/_replication/wal', async (req) => {
      const since = Number(req.query.since);
      return { entries: this.log.filter((e) => e.seq > since).slice(0, Number(req.query.limit)), lastSeq: this.state.lastSeq, oldestSeq: 1, term: 1, role: this.state.role };
    });
    this.app.post<{ Body: ReplicateRequest }>('/v1/_replication/replicate', async (req) => {
      if (this.hangReplicate) return new Promise(() => undefined);
      const r = req.body;
      if (r.prevSeq > this.state.lastSeq) return { ok: false, error: 'gap', message: 'gap', lastSeq: this.state.lastSeq, lastTerm: this.state.lastTerm, mismatch: false };
      for (const e of r.entries) if (e.seq > this.state.lastSeq) this.append(e);
      return { ok: true, term: this.state.term, lastSeq: this.state.lastSeq, lastTerm: this.state.lastTerm, rolledBack: 0 };
    });
    const entry = (id: string): LogEntry => {
      const e: LogEntry = { seq: this.state.lastSeq + 1, term: 1, op: 'put', db: 'd', id, rev: '1-x', doc: null, ts: 0 };
      this.append(e);
      return e;
    };
    this.app.post<{ Body: Record<string, unknown> }>('/v1/db/:db/docs', async (req, reply) => {
      this.record(req.method, req.url, req.body, req.headers[IDEMPOTENCY_HEADER]);
      if (this.state.role !== 'primary') return reply.status(409).send({ ok: false, error: 'not_primary', message: 'not primary', term: 1, primaryId: null });
      const id = String(req.body.id);
      const e = entry(id);
      return reply.status(201).send({ id, rev: e.rev, data: req.body.data, seq: e.seq, entries: [e] });
    });
    this.app.post<{ Body: { docs: Array<{ id: string }> } }>('/v1/db/:db/_bulk_docs', async (req) => {
      this.record(req.method, req.url, req.body, req.headers[IDEMPOTENCY_HEADER]);
      const entries = req.body.docs.map((d) => entry(d.id));
      return { results: entries.map((e) => ({ ok: true, id: e.id, rev: e.rev, seq: e.seq })), seq: entries.at(-1)!.seq, entries };
    });
  }

  record(method: string, url: string, body: unknown, key: string | string[] | undefined): void {
    this.sent.push({ method, url, body: body as Record<string, unknown>, key: typeof key === 'string' ? key : undefined });
  }

  append(e: LogEntry): void {
    this.log.push(e);
    this.state = { ...this.state, lastSeq: e.seq, lastTerm: e.term };
  }

  async start(): Promise<this> {
    this.url = await this.app.listen({ host: '127.0.0.1', port: 0 });
    return this;
  }
}

describe('router: a keyed POST gets an id derived from its key', () => {
  let fakes: FakeNode[] = [];
  let shards: Shards | null = null;
  let router: FastifyInstance | null = null;
  let poller: HealthMonitor | null = null;

  afterEach(async () => {
    poller?.stop();
    await router?.close();
    await shards?.stop();
    await Promise.all(fakes.map((n) => n.app.close()));
    fakes = [];
    shards = null;
    router = null;
    poller = null;
  });

  async function setup(roles: Array<'primary' | 'replica'> = ['primary', 'replica', 'replica']): Promise<FastifyInstance> {
    fakes = await Promise.all(roles.map((r, i) => new FakeNode(`n${i}`, r).start()));
    const config: Readonly<Config> = parseConfig({
      cluster: { name: 'c', secret: SECRET },
      router: { url: 'http://127.0.0.1:1' },
      replication: { writeQuorum: 2, healthCheckIntervalMs: 100, failoverTimeoutMs: 1000, writeTimeoutMs: WRITE_TIMEOUT_MS },
      shards: [{ id: 0, nodes: fakes.map((n) => ({ id: n.id, url: n.url })) }],
    }, { baseDir: root, env: {} });
    const log = createLogger({ name: 'idempotency-test', level: 'silent' });
    shards = new Shards({ config, clock: systemClock, log });
    await shards.discover(Date.now() + 2000);
    const s = shards;
    const byId = new Map(s.nodes().map((n) => [n.id, n.client]));
    poller = new HealthMonitor({
      nodes: s.nodes().map((n) => ({ id: n.id, url: n.client.url })), intervalMs: 100, clock: systemClock,
      poll: async (id) => (await byId.get(id)!.json<NodeState>({ path: `${REPLICATION_PREFIX}/state`, timeoutMs: 80 })).body,
      onObservation: (id, st, now) => s.observe(id, st, now),
    });
    poller.start();
    router = buildRouter({ config, shards, clock: systemClock, logger: log });
    await router.ready();
    return router;
  }

  const post = (a: FastifyInstance, url: string, payload: object, key?: string) => a.inject({ method: 'POST', url, payload, headers: key === undefined ? {} : { [IDEMPOTENCY_HEADER]: key } });

  it('the same key names the same document on every retry; without a key every POST gets a fresh id', async () => {
    const a = await setup();
    const primary = fakes[0]!;
    const r1 = await post(a, '/v1/db/d/docs', { data: { v: 1 } }, 'client-key-1');
    const r2 = await post(a, '/v1/db/d/docs', { data: { v: 1 } }, 'client-key-1');
    expect([r1.statusCode, r2.statusCode]).toEqual([201, 201]);
    const want = docIdForKey('client-key-1');
    expect(primary.sent.map((s) => [s.body?.id, s.key])).toEqual([[want, 'client-key-1'], [want, 'client-key-1']]);
    expect([r1.json().id, r2.json().id]).toEqual([want, want]);
    expect(r1.headers.location).toBe(`/v1/db/d/docs/${want}`);
    // A body id wins over the key's.
    await post(a, '/v1/db/d/docs', { id: 'mine', data: {} }, 'client-key-2');
    expect(primary.sent.at(-1)).toMatchObject({ body: { id: 'mine' }, key: 'client-key-2' });
    // Unkeyed: random ids, one per POST, and no key sent on.
    await post(a, '/v1/db/d/docs', { data: {} });
    await post(a, '/v1/db/d/docs', { data: {} });
    const [u1, u2] = primary.sent.slice(-2);
    expect(u1!.key).toBeUndefined();
    expect(u1!.body?.id).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(u1!.body?.id).not.toBe(u2!.body?.id);
  });

  it('a keyed _bulk_docs derives each missing id from the key and the doc\'s place, the same on a retry', async () => {
    const a = await setup();
    const body = { docs: [{ data: { i: 0 } }, { id: 'given', data: { i: 1 } }, { data: { i: 2 } }] };
    for (let i = 0; i < 2; i++) {
      const res = await a.inject({ method: 'POST', url: '/v1/db/d/_bulk_docs', payload: body, headers: { [IDEMPOTENCY_HEADER]: 'bulk-key' } });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().map((r: { id: string }) => r.id)).toEqual([docIdForKey('bulk-key#0'), 'given', docIdForKey('bulk-key#2')]);
    }
    const sent = fakes[0]!.sent;
    expect(sent).toHaveLength(2);
    expect(sent[1]!.body).toEqual(sent[0]!.body);
    expect(sent.map((s) => s.key)).toEqual(['bulk-key', 'bulk-key']);
  });

  it('a POST whose write ends 503 quorum_not_met carries the id it was given, keyed or not', async () => {
    const a = await setup();
    for (const r of fakes.slice(1)) r.hangReplicate = true;
    const keyed = await post(a, '/v1/db/d/docs', { data: {} }, 'slow-key');
    expect(keyed.statusCode).toBe(503);
    expect(keyed.json()).toMatchObject({ ok: false, error: 'quorum_not_met', outcome: 'indeterminate', id: docIdForKey('slow-key') });
    expect(keyed.headers['retry-after']).toBeDefined();
    const unkeyed = await post(a, '/v1/db/d/docs', { data: {} });
    expect(unkeyed.statusCode).toBe(503);
    const sentId = fakes[0]!.sent.at(-1)!.body?.id;
    expect(sentId).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(unkeyed.json()).toMatchObject({ error: 'quorum_not_met', id: sentId });
  });

  it('no primary: the 503 no_primary of a keyed POST carries the key\'s id; a malformed key is 400 before any node', async () => {
    const a = await setup(['replica', 'replica', 'replica']);
    const res = await post(a, '/v1/db/d/docs', { data: {} }, 'nobody-key');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'no_primary', outcome: 'not_applied', id: docIdForKey('nobody-key') });
    for (const bad of ['two words', 'k'.repeat(201)]) {
      const r = await post(a, '/v1/db/d/docs', { data: {} }, bad);
      expect([r.statusCode, r.json().error, r.json().path]).toEqual([400, 'bad_request', 'headers.idempotency-key']);
    }
    expect(fakes.flatMap((n) => n.sent)).toEqual([]);
  });
});
