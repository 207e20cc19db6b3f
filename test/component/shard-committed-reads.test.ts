import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config/index.ts';
import type { ReplicateRequest, Role, SnapshotLine } from '../../src/core/protocol.ts';
import { build } from '../../shard/app.ts';
import { GroupCommit, Store } from '../../shard/store/index.ts';

// A node serves committed data only (DESIGN §4 "Reads never show a value
// that can still be rolled back"; shard/store/queries.ts). The read point is
// the node's own commit point, raised for one read by the reader's
// x-tessera-commit. Here a primary of a 3-node shard (writeQuorum 2) takes
// writes no replica acknowledged, so its commit point stays behind its log
// end; the test plays the router and moves the commit point on purpose.

const root = mkdtempSync(join(tmpdir(), 'tessera-committed-reads-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SECRET = 'committed-reads-secret';
const config = parseConfig({
  cluster: { name: 't', secret: SECRET },
  router: { url: 'http://127.0.0.1:17200' },
  replication: { writeQuorum: 2 },
  shards: [{ id: 0, nodes: [{ id: 'n1', url: 'http://127.0.0.1:17201' }, { id: 'n2', url: 'http://127.0.0.1:17202' }, { id: 'n3', url: 'http://127.0.0.1:17203' }] }],
}, { baseDir: root, env: {} });

interface Node {
  app: FastifyInstance;
  store: Store;
}
const nodes: Node[] = [];
let files = 0;
async function node(nodeId: string, role: Role): Promise<Node> {
  const store = new Store({ path: join(root, `${nodeId}-${files++}.db`), nodeId, shardId: 0, initial: { role, primaryId: 'n1', joined: true }, walRetention: 10_000 });
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

interface Answer {
  status: number;
  /** A JSON answer of many shapes: the assertions say what it must hold. */
  body: any;
  headers: Record<string, unknown>;
}

/** A plain request: no x-tessera-commit unless the test gives one (the read point is then the node's own). */
async function call(n: Node, method: InjectOptions['method'], url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await n.app.inject({ method, url, headers: { ...auth, ...headers }, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null, headers: res.headers };
}

/** A write as the router sends it: stamped with the node's term (the answer then carries its entries). */
async function write(n: Node, method: InjectOptions['method'], url: string, body?: unknown): Promise<Answer> {
  const res = await call(n, method, url, body, { 'x-tessera-term': String(n.store.meta().term) });
  expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res;
}

/** The router's state poll carrying its commit point: the primary's commit point moves to `seq`. */
async function commitThrough(n: Node, seq: number): Promise<void> {
  const res = await call(n, 'GET', '/v1/_replication/state', undefined, { 'x-tessera-commit': String(seq) });
  expect(res.status).toBe(200);
  expect(res.body.commitSeq).toBe(seq);
}

/** The stored document a write answered (its answer adds seq, and entries when stamped). */
function stored(answer: Answer): Record<string, unknown> {
  const { seq: _seq, entries: _entries, ...doc } = answer.body as Record<string, unknown>;
  return doc;
}

const at = (seq: number) => ({ 'x-tessera-commit': String(seq) });

/** Sends `from`'s entries after `prevSeq` to `to` the way the router would (as in shard-store.test.ts). */
function ship(from: Store, to: Store, prevSeq: number, opts: Partial<ReplicateRequest> = {}) {
  const all = from.entries(0);
  const entries = all.filter((e) => e.seq > prevSeq);
  const prevTerm = prevSeq === 0 ? 0 : all.find((e) => e.seq === prevSeq)!.term;
  const st = from.state();
  return to.replicate({ term: st.term, primaryId: from.nodeId, commitSeq: st.commitSeq, prevSeq, prevTerm, entries, truncate: true, ...opts });
}

function parseLines(lines: string[]): SnapshotLine[] {
  return lines.join('').trim().split('\n').map((l) => JSON.parse(l) as SnapshotLine);
}

describe('committed reads on a node (read point = its commit point, raised per read by x-tessera-commit)', () => {
  it('single-document GET serves the newest revision at or below the read point, with x-tessera-seq and x-tessera-pending-seq', async () => {
    const p = await node('n1', 'primary');
    await write(p, 'PUT', '/v1/db/d'); // 1
    const x1 = await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }); // 2
    const y1 = await write(p, 'PUT', '/v1/db/d/docs/y', { data: { v: 1 } }); // 3
    await commitThrough(p, 3);
    const x2 = await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 2 }, rev: x1.body.rev }); // 4
    const z = await write(p, 'PUT', '/v1/db/d/docs/z', { data: { v: 1 } }); // 5
    await write(p, 'DELETE', `/v1/db/d/docs/y?rev=${y1.body.rev as string}`); // 6
    expect([x1.body.seq, y1.body.seq, x2.body.seq, z.body.seq]).toEqual([2, 3, 4, 5]);
    expect(p.store.state()).toMatchObject({ lastSeq: 6, commitSeq: 3 });

    // The uncommitted head (seq 4) is not served: the committed v1 is, and the newer write is reported.
    const x = await call(p, 'GET', '/v1/db/d/docs/x');
    expect(x.status).toBe(200);
    expect(x.body).toEqual(stored(x1));
    expect(x.headers['x-tessera-seq']).toBe('2');
    expect(x.headers['x-tessera-pending-seq']).toBe('4');

    // An uncommitted delete: the committed version of y is still served.
    const y = await call(p, 'GET', '/v1/db/d/docs/y');
    expect([y.status, y.body]).toEqual([200, stored(y1)]);
    expect([y.headers['x-tessera-seq'], y.headers['x-tessera-pending-seq']]).toEqual(['3', '6']);

    // The reader's commit point raises the read point for this read: the head is served, nothing pending.
    const raised = await call(p, 'GET', '/v1/db/d/docs/x', undefined, at(4));
    expect(raised.status).toBe(200);
    expect(raised.body).toEqual(stored(x2));
    expect(raised.headers['x-tessera-seq']).toBe('4');
    expect(raised.headers['x-tessera-pending-seq']).toBeUndefined();
    // ...capped at the log's end, never beyond it.
    expect((await call(p, 'GET', '/v1/db/d/docs/x', undefined, at(1_000_000))).body).toEqual(stored(x2));
    expect((await call(p, 'GET', '/v1/db/d/docs/y', undefined, at(6))).status).toBe(404);

    // It counted for that read only: it is never noted as the node's commit point.
    const again = await call(p, 'GET', '/v1/db/d/docs/x');
    expect(again.body).toEqual(stored(x1));
    expect(again.headers['x-tessera-pending-seq']).toBe('4');
    expect(p.store.state().commitSeq).toBe(3);

    // A document created only above the read point does not exist yet, and says what is pending.
    const zz = await call(p, 'GET', '/v1/db/d/docs/z');
    expect(zz.status).toBe(404);
    expect(zz.body).toMatchObject({ ok: false, error: 'not_found' });
    expect([zz.headers['x-tessera-seq'], zz.headers['x-tessera-pending-seq']]).toEqual(['0', '5']);
    expect(await call(p, 'GET', '/v1/db/d/docs/z', undefined, at(5))).toMatchObject({ status: 200, body: stored(z) });

    // ?rev= of an uncommitted revision is not served either; a committed one is.
    const rev2 = await call(p, 'GET', `/v1/db/d/docs/x?rev=${x2.body.rev as string}`);
    expect(rev2.status).toBe(404);
    expect(rev2.headers['x-tessera-pending-seq']).toBe('4');
    const rev1 = await call(p, 'GET', `/v1/db/d/docs/x?rev=${x1.body.rev as string}`);
    expect([rev1.status, rev1.body, rev1.headers['x-tessera-seq']]).toEqual([200, stored(x1), '2']);

    // Once the router's commit point covers the writes, plain reads serve them.
    await commitThrough(p, 6);
    const now = await call(p, 'GET', '/v1/db/d/docs/x');
    expect([now.body, now.headers['x-tessera-seq'], now.headers['x-tessera-pending-seq']]).toEqual([stored(x2), '4', undefined]);
    expect((await call(p, 'GET', '/v1/db/d/docs/y')).status).toBe(404);
  });

  it('_all_docs, _find, _search and db info show only committed data', async () => {
    const p = await node('n1', 'primary');
    await write(p, 'PUT', '/v1/db/d'); // 1
    const a1 = await write(p, 'PUT', '/v1/db/d/docs/a', { data: { k: 1 }, tags: ['t'], content: 'apple pie' }); // 2
    const b1 = await write(p, 'PUT', '/v1/db/d/docs/b', { data: { k: 3 }, tags: ['t'], content: 'banana split' }); // 3
    const c1 = await write(p, 'PUT', '/v1/db/d/docs/c', { data: { k: 3 } }); // 4
    await commitThrough(p, 4);
    // Uncommitted: a rewritten, b deleted, n created (matching what a used to match).
    const a2 = await write(p, 'PUT', '/v1/db/d/docs/a', { data: { k: 2 }, tags: ['u'], content: 'cherry tart', rev: a1.body.rev }); // 5
    await write(p, 'DELETE', `/v1/db/d/docs/b?rev=${b1.body.rev as string}`); // 6
    const n1 = await write(p, 'PUT', '/v1/db/d/docs/n', { data: { k: 1 }, tags: ['t'], content: 'apple crumble' }); // 7
    expect(p.store.state()).toMatchObject({ lastSeq: 7, commitSeq: 4 });

    const ids = (r: Answer) => (r.body.items as Array<{ id: string }>).map((d) => d.id);

    const all = await call(p, 'GET', '/v1/db/d/_all_docs');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ total: 3, items: [stored(a1), stored(b1), stored(c1)], next: null });
    expect((await call(p, 'GET', '/v1/db/d/_all_docs?includeDeleted=true')).body).toEqual({ total: 3, items: [stored(a1), stored(b1), stored(c1)], next: null });
    // Paging runs over the committed set too.
    expect((await call(p, 'GET', '/v1/db/d/_all_docs?limit=2')).body).toEqual({ total: 3, items: [stored(a1), stored(b1)], next: 'b' });
    expect((await call(p, 'GET', '/v1/db/d/_all_docs?startAfter=a&skip=1')).body).toEqual({ total: 3, items: [stored(c1)], next: null });

    expect((await call(p, 'GET', '/v1/db/d')).body).toEqual({ db: 'd', docCount: 3, deletedCount: 0, seq: 4 });

    const k1 = await call(p, 'POST', '/v1/db/d/_find/fields', { equalsMap: { k: 1 } });
    expect(k1.body).toEqual({ total: 1, items: [stored(a1)] });
    expect((await call(p, 'POST', '/v1/db/d/_find/fields', { equalsMap: { k: 2 } })).body).toEqual({ total: 0, items: [] });
    expect(ids(await call(p, 'POST', '/v1/db/d/_find/fields', { numericField: 'k', min: 1, max: 3 }))).toEqual(['a', 'b', 'c']);
    expect((await call(p, 'POST', '/v1/db/d/_find/tags', { allOf: ['t'] })).body).toEqual({ total: 2, items: [stored(a1), stored(b1)] });
    expect((await call(p, 'POST', '/v1/db/d/_find/tags', { anyOf: ['u'] })).body).toEqual({ total: 0, items: [] });

    expect((await call(p, 'GET', '/v1/db/d/_search?q=apple')).body).toEqual({ total: 1, items: [stored(a1)] });
    expect((await call(p, 'GET', '/v1/db/d/_search?q=cherry')).body).toEqual({ total: 0, items: [] });
    expect((await call(p, 'GET', '/v1/db/d/_search?q=banana')).body).toEqual({ total: 1, items: [stored(b1)] });

    // Raised to the log's end by the reader, every one of them shows the new state.
    const end = at(7);
    expect((await call(p, 'GET', '/v1/db/d/_all_docs', undefined, end)).body).toEqual({ total: 3, items: [stored(a2), stored(c1), stored(n1)], next: null });
    expect(ids(await call(p, 'GET', '/v1/db/d/_all_docs?includeDeleted=true', undefined, end))).toEqual(['a', 'b', 'c', 'n']);
    expect((await call(p, 'GET', '/v1/db/d', undefined, end)).body).toEqual({ db: 'd', docCount: 3, deletedCount: 1, seq: 7 });
    expect((await call(p, 'POST', '/v1/db/d/_find/fields', { equalsMap: { k: 1 } }, end)).body).toEqual({ total: 1, items: [stored(n1)] });
    expect((await call(p, 'POST', '/v1/db/d/_find/tags', { anyOf: ['u'] }, end)).body).toEqual({ total: 1, items: [stored(a2)] });
    expect((await call(p, 'GET', '/v1/db/d/_search?q=apple', undefined, end)).body).toEqual({ total: 1, items: [stored(n1)] });
    expect((await call(p, 'GET', '/v1/db/d/_search?q=banana', undefined, end)).body).toEqual({ total: 0, items: [] });
    expect((await call(p, 'GET', '/v1/db/d/_search?q=cherry', undefined, end)).body).toEqual({ total: 1, items: [stored(a2)] });

    // A read point in between (5: a rewritten, b and n not yet).
    expect(ids(await call(p, 'GET', '/v1/db/d/_all_docs', undefined, at(5)))).toEqual(['a', 'b', 'c']);
    expect((await call(p, 'GET', '/v1/db/d', undefined, at(5))).body).toEqual({ db: 'd', docCount: 3, deletedCount: 0, seq: 5 });
    expect(ids(await call(p, 'GET', '/v1/db/d/_search?q=apple', undefined, at(5)))).toEqual([]);
  });

  it('_changes reports each document at its latest revision at or below the commit point: an uncommitted head never hides a committed change', async () => {
    const p = await node('n1', 'primary');
    await write(p, 'PUT', '/v1/db/d'); // 1
    await write(p, 'POST', '/v1/db/d/_bulk_docs', { docs: Array.from({ length: 38 }, (_, i) => ({ id: `d${String(i).padStart(2, '0')}`, data: { i } })) }); // 2..39
    const x1 = await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }); // 40
    expect(x1.body.seq).toBe(40);
    await commitThrough(p, 40);
    const x2 = await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 2 }, rev: x1.body.rev }); // 41, uncommitted
    await write(p, 'PUT', '/v1/db/d/docs/w', { data: {} }); // 42, uncommitted
    expect(p.store.state()).toMatchObject({ lastSeq: 42, commitSeq: 40 });

    const full = await call(p, 'GET', '/v1/db/d/_changes?since=0');
    expect(full.status).toBe(200);
    expect(full.body.results).toHaveLength(39);
    expect(full.body.results.at(-1)).toEqual({ id: 'x', rev: x1.body.rev, seq: 40 });
    expect(full.body.results.map((r: { id: string }) => r.id)).not.toContain('w');
    expect(full.body.last).toBe(40);
    expect((await call(p, 'GET', '/v1/db/d/_changes?since=39')).body).toEqual({ results: [{ id: 'x', rev: x1.body.rev, seq: 40 }], last: 40 });
    // `until` above the commit point is capped at it.
    expect((await call(p, 'GET', '/v1/db/d/_changes?since=39&until=42')).body).toEqual({ results: [{ id: 'x', rev: x1.body.rev, seq: 40 }], last: 40 });
    // A full page's cursor is its last result; the next page continues from there.
    const page = await call(p, 'GET', '/v1/db/d/_changes?since=30&limit=5');
    expect(page.body.results.map((r: { seq: number }) => r.seq)).toEqual([31, 32, 33, 34, 35]);
    expect(page.body.last).toBe(35);
    expect((await call(p, 'GET', '/v1/db/d/_changes?since=40')).body).toEqual({ results: [], last: 40 });
    // `until` below the commit point reports x as it was there: not at all.
    expect((await call(p, 'GET', '/v1/db/d/_changes?since=35&until=39')).body.results.map((r: { seq: number }) => r.seq)).toEqual([36, 37, 38, 39]);

    // Raised by the reader: the newer head and the new document.
    expect((await call(p, 'GET', '/v1/db/d/_changes?since=39', undefined, at(42))).body).toEqual({
      results: [{ id: 'x', rev: x2.body.rev, seq: 41 }, { id: 'w', rev: expect.any(String), seq: 42 }], last: 42,
    });
  });

  it('_changes keeps the committed change of a document whose uncommitted head is rolled back by a conflicting replicate', async () => {
    const p = await node('n1', 'primary');
    const next = await node('n2', 'replica');
    await write(p, 'PUT', '/v1/db/d'); // 1
    await write(p, 'POST', '/v1/db/d/_bulk_docs', { docs: Array.from({ length: 38 }, (_, i) => ({ id: `d${String(i).padStart(2, '0')}`, data: { i } })) }); // 2..39
    const x1 = await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 1 } }); // 40
    await commitThrough(p, 40);
    // n2 holds 1..40 (committed: a quorum of two), then n1 writes x again where nobody sees it.
    expect(ship(p.store, next.store, 0)).toMatchObject({ ok: true, lastSeq: 40 });
    const lost = await write(p, 'PUT', '/v1/db/d/docs/x', { data: { v: 'lost' }, rev: x1.body.rev }); // 41, term 1
    expect(lost.body.seq).toBe(41);
    const committedX = { results: [{ id: 'x', rev: x1.body.rev, seq: 40 }], last: 40 };
    expect((await call(p, 'GET', '/v1/db/d/_changes?since=39')).body).toEqual(committedX);

    // n2 is elected at term 2 (its noop takes seq 41) and relays to n1: n1's entry 41 of term 1 is rolled back.
    expect(next.store.vote({ term: 2, candidateId: 'n2', lastTerm: 1, lastSeq: 40 })).toMatchObject({ granted: true });
    next.store.promote({ term: 2 });
    expect(ship(next.store, p.store, 40)).toMatchObject({ ok: true, term: 2, lastSeq: 41, lastTerm: 2, rolledBack: 1 });
    expect(p.store.rollbackEntries().map((e) => [e.seq, e.term, e.id])).toEqual([[41, 1, 'x']]);
    expect(p.store.state()).toMatchObject({ role: 'replica', term: 2, commitSeq: 40 });

    // The feed still has the committed change, before and after the commit point moves past the rollback.
    expect((await call(p, 'GET', '/v1/db/d/_changes?since=39')).body).toEqual(committedX);
    const head = await call(p, 'GET', '/v1/db/d/docs/x');
    expect([head.body, head.headers['x-tessera-seq'], head.headers['x-tessera-pending-seq']]).toEqual([stored(x1), '40', undefined]);
    expect(ship(next.store, p.store, 41, { commitSeq: 41 })).toMatchObject({ ok: true, lastSeq: 41 });
    expect(p.store.state().commitSeq).toBe(41);
    expect((await call(p, 'GET', '/v1/db/d/_changes?since=39')).body).toEqual({ results: [{ id: 'x', rev: x1.body.rev, seq: 40 }], last: 41 });
    expect((await call(p, 'GET', '/v1/db/d/_changes?since=0')).body.results.filter((r: { id: string }) => r.id === 'x')).toEqual([{ id: 'x', rev: x1.body.rev, seq: 40 }]);
  });

  it('a db created (or deleted) above the read point answers 503 unavailable with pendingSeq, never 404 or its contents', async () => {
    const p = await node('n1', 'primary');
    await write(p, 'PUT', '/v1/db/d'); // 1
    await write(p, 'PUT', '/v1/db/d/docs/a', { data: { v: 1 } }); // 2
    await commitThrough(p, 2);
    await write(p, 'PUT', '/v1/db/late'); // 3
    await write(p, 'PUT', '/v1/db/late/docs/a', { data: { v: 'late' } }); // 4
    expect(p.store.state()).toMatchObject({ lastSeq: 4, commitSeq: 2 });

    expect((await call(p, 'GET', '/v1/db')).body).toEqual({ dbs: ['d'] });
    const reads: Array<[InjectOptions['method'], string, unknown?]> = [
      ['GET', '/v1/db/late'],
      ['GET', '/v1/db/late/docs/a'],
      ['GET', '/v1/db/late/_all_docs'],
      ['GET', '/v1/db/late/_changes'],
      ['GET', '/v1/db/late/_search?q=late'],
      ['POST', '/v1/db/late/_find/fields', { equalsMap: {} }],
      ['POST', '/v1/db/late/_find/tags', {}],
    ];
    for (const [method, url, body] of reads) {
      const res = await call(p, method, url, body);
      expect([res.status, res.body.error, res.body.pendingSeq], `${method} ${url}`).toEqual([503, 'unavailable', 3]);
      expect(res.headers['retry-after'], `${method} ${url}`).toBeDefined();
    }
    // A db nobody created is still a plain 404.
    expect(await call(p, 'GET', '/v1/db/never')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    // With the reader's commit point past the create, the db and its document are there.
    expect((await call(p, 'GET', '/v1/db', undefined, at(4))).body).toEqual({ dbs: ['d', 'late'] });
    expect((await call(p, 'GET', '/v1/db/late', undefined, at(4))).body).toEqual({ db: 'late', docCount: 1, deletedCount: 0, seq: 4 });
    // At 3 the db exists but its document does not yet.
    expect(await call(p, 'GET', '/v1/db/late/docs/a', undefined, at(3))).toMatchObject({ status: 404, headers: { 'x-tessera-pending-seq': '4' } });

    // An uncommitted delete: the db and its documents are still the committed ones, not yet gone.
    await commitThrough(p, 4);
    await write(p, 'DELETE', '/v1/db/d'); // 5
    expect((await call(p, 'GET', '/v1/db')).body).toEqual({ dbs: ['d', 'late'] });
    for (const url of ['/v1/db/d', '/v1/db/d/docs/a', '/v1/db/d/_all_docs', '/v1/db/d/_changes']) {
      const res = await call(p, 'GET', url);
      expect([res.status, res.body.error, res.body.pendingSeq], url).toEqual([503, 'unavailable', 5]);
    }
    expect((await call(p, 'GET', '/v1/db/d', undefined, at(5))).status).toBe(404);
  });

  it('a read point below a copy\'s snapshot base answers 503, not a wrong result', async () => {
    const p = await node('n1', 'primary');
    p.store.createDb('d');
    const a = p.store.putDoc('d', 'a', undefined, { data: { v: 1 } }).body;
    p.store.putDoc('d', 'b', undefined, { data: { v: 2 } });
    const r = await node('n2', 'replica');
    r.store.installSnapshot(parseLines([...p.store.snapshotLines()]), 1, 'n1');
    // The install's end is above the commit point the copy knows (0): it keeps no history below its base.
    expect(r.store.state()).toMatchObject({ lastSeq: 3, oldestSeq: 4, commitSeq: 0 });

    const reads = ['/v1/db', '/v1/db/d', '/v1/db/d/docs/a', '/v1/db/d/_all_docs', '/v1/db/d/_changes', '/v1/db/d/_search?q=x'];
    for (const url of reads) {
      for (const headers of [{}, at(2)]) {
        const res = await call(r, 'GET', url, undefined, headers);
        expect([res.status, res.body.error], `${url} ${JSON.stringify(headers)}`).toEqual([503, 'unavailable']);
        expect(res.headers['retry-after']).toBeDefined();
      }
    }
    const find = await call(r, 'POST', '/v1/db/d/_find/fields', { equalsMap: {} });
    expect([find.status, find.body.error]).toEqual([503, 'unavailable']);

    // A reader's commit point at the base makes it readable for that read...
    const doc = await call(r, 'GET', '/v1/db/d/docs/a', undefined, at(3));
    expect([doc.status, doc.headers['x-tessera-seq']]).toEqual([200, '2']);
    expect(doc.body).toEqual({ id: 'a', rev: a.rev, data: { v: 1 } });
    // ...and once the copy learns a commit point at its base (the router's next batch), for every read.
    expect(ship(p.store, r.store, 3, { commitSeq: 3 })).toMatchObject({ ok: true, lastSeq: 3 });
    expect((await call(r, 'GET', '/v1/db/d/_all_docs')).body).toMatchObject({ total: 2 });
    expect((await call(r, 'GET', '/v1/db/d')).body).toEqual({ db: 'd', docCount: 2, deletedCount: 0, seq: 3 });
  });
});
