import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardFor } from '../../src/core/hash.ts';
import type { Doc } from '../../src/core/protocol.ts';
import { startCluster, waitFor, writeTestConfig, type TestCluster } from '../harness/index.ts';
import { INSPECT_HEADERS } from '../harness/inspect.ts';

// Issue 3 "Done when", against real processes: 3 shards x 3 nodes, the
// router in front, faults by SIGKILL / SIGSTOP. No failover is involved
// (the router never elects here), so every fault stays a replica fault.

const SHARDS = 3;
const WRITE_TIMEOUT_MS = 1500;
let cluster: TestCluster;
let url: string;

async function call(method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; body: any; headers: Headers; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {},
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    signal: AbortSignal.timeout(WRITE_TIMEOUT_MS + 5000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers, ms: Date.now() - started };
}

/** `count` fresh ids that hash to `shard`. */
function idsOn(shard: number, count: number, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count && i < 100_000; i++) if (shardFor(`${prefix}${i}`, SHARDS) === shard) out.push(`${prefix}${i}`);
  return out;
}

/** The doc as one node holds it, or null (404). Reads the node directly, with the secret. */
async function onNode(nodeId: string, id: string): Promise<Doc | null> {
  const res = await cluster.client(nodeId).raw({ path: `/v1/db/t/docs/${id}`, timeoutMs: 2000, headers: { ...INSPECT_HEADERS } });
  if (res.status === 404) return null;
  expect(res.status).toBe(200);
  return res.body as Doc;
}

async function allDocsOf(nodeId: string): Promise<unknown[]> {
  const res = await cluster.client(nodeId).json<{ items: unknown[] }>({ path: '/v1/db/t/_all_docs?includeDeleted=true&limit=1000', timeoutMs: 2000, headers: { ...INSPECT_HEADERS } });
  return res.body.items;
}

beforeAll(async () => {
  const tc = await writeTestConfig({ shards: SHARDS, nodesPerShard: 3, overrides: { replication: { writeTimeoutMs: WRITE_TIMEOUT_MS, readQuorum: 2 } } });
  cluster = await startCluster(tc);
  url = cluster.router.url;
  expect((await call('PUT', '/v1/db/t')).status).toBe(201);
});

afterAll(async () => {
  await cluster?.dispose();
});

describe('router over a 3x3 cluster', () => {
  it('puts each acknowledged write on every node of its shard and on no other', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `spread${i}`);
    const acked: Array<{ id: string; rev: string; shard: number }> = [];
    for (const id of ids) {
      const r = await call('PUT', `/v1/db/t/docs/${id}`, { data: { id } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.shard).toBe(shardFor(id, SHARDS));
      expect(r.body.acks).toBeGreaterThanOrEqual(2);
      expect(r.body).not.toHaveProperty('entries');
      acked.push({ id, rev: r.body.rev, shard: r.body.shard });
    }
    for (const w of acked) {
      // Acknowledged = on a quorum now; the third copy follows within a relay round.
      await waitFor(async () => {
        const copies = await Promise.all(cluster.shardNodes(w.shard).map((n) => onNode(n, w.id)));
        return copies.every((d) => d?.rev === w.rev);
      }, { timeoutMs: 5000, message: `${w.id} on every node of shard ${w.shard}` });
      for (let s = 0; s < SHARDS; s++) {
        if (s === w.shard) continue;
        for (const n of cluster.shardNodes(s)) expect(await onNode(n, w.id), `${w.id} must not be on ${n}`).toBeNull();
      }
    }
  });

  it('pages _all_docs across the 3 shards: every id once, in order', async () => {
    const ids = Array.from({ length: 41 }, (_, i) => `page${String(i).padStart(3, '0')}x${i % 7}`);
    const r = await call('POST', '/v1/db/t/_bulk_docs', { docs: ids.map((id) => ({ id, data: { id } })) });
    expect(r.status).toBe(200);
    expect(r.body.map((x: { id: string }) => x.id)).toEqual(ids);
    expect(r.body.every((x: { ok?: boolean }) => x.ok === true)).toBe(true);
    const seen: string[] = [];
    let next: string | null = null;
    for (let page = 0; page < 100; page++) {
      const r2 = await call('GET', `/v1/db/t/_all_docs?limit=7${next ? `&startAfter=${next}` : ''}`);
      expect(r2.status).toBe(200);
      seen.push(...r2.body.items.map((d: Doc) => d.id));
      next = r2.body.next;
      if (next === null) break;
    }
    expect(next).toBeNull();
    const expected = [...new Set(seen)].sort();
    expect(seen).toEqual(expected); // ordered and no duplicates
    for (const id of ids) expect(seen).toContain(id);
  });

  it('answers bad input through the router with the documented 4xx', async () => {
    const big = await call('PUT', '/v1/db/t/docs/big', undefined, JSON.stringify({ data: { blob: 'x'.repeat(2 * 1024 * 1024) } }));
    expect(big.status).toBe(413);
    expect(big.body.error).toBe('payload_too_large');
    const malformed = await call('PUT', '/v1/db/t/docs/m', undefined, '{"data": {');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('bad_request');
    const unknown = await call('GET', '/v1/nothing/here');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ ok: false, error: 'not_found' });
    const created = await call('PUT', '/v1/db/t/docs/staleone', { data: { v: 1 } });
    expect(created.status).toBe(201);
    expect((await call('PUT', '/v1/db/t/docs/staleone', { data: { v: 2 }, rev: created.body.rev })).status).toBe(200);
    const stale = await call('PUT', '/v1/db/t/docs/staleone', { data: { v: 3 }, rev: created.body.rev });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toBe('conflict');
  });

  it('serves queries, db info, reads and _changes across shards', async () => {
    expect((await call('PUT', '/v1/db/q')).status).toBe(201);
    expect((await call('PUT', '/v1/db/q')).status).toBe(200); // exists on every shard: a no-op
    const docs = Array.from({ length: 24 }, (_, i) => ({ id: `q${String(i).padStart(2, '0')}`, data: { n: i, even: i % 2 === 0 }, tags: i % 3 === 0 ? ['three'] : ['other'], content: i === 7 ? 'a lonely walrus' : 'plain text' }));
    const bulk = await call('POST', '/v1/db/q/_bulk_docs', { docs });
    expect(bulk.body.every((r: { ok?: boolean }) => r.ok)).toBe(true);
    expect(new Set(docs.map((d) => shardFor(d.id, SHARDS))).size).toBe(SHARDS);

    const info = await call('GET', '/v1/db/q');
    expect(info.body).toMatchObject({ db: 'q', docCount: 24, deletedCount: 0 });
    expect((await call('GET', '/v1/db')).body.dbs).toEqual(expect.arrayContaining(['q', 't']));

    const fields = await call('POST', '/v1/db/q/_find/fields', { equalsMap: { even: true }, numericField: 'n', min: 4, max: 10, skip: 1, limit: 2 });
    expect(fields.body).toMatchObject({ total: 4, items: [{ id: 'q06' }, { id: 'q08' }] });
    const tags = await call('POST', '/v1/db/q/_find/tags', { allOf: ['three'] });
    expect(tags.body.items.map((d: Doc) => d.id)).toEqual(['q00', 'q03', 'q06', 'q09', 'q12', 'q15', 'q18', 'q21']);
    const found = await call('GET', '/v1/db/q/_search?q=walrus');
    expect(found.body.items.map((d: Doc) => d.id)).toEqual(['q07']);

    for (const mode of ['primary', 'any', 'quorum']) {
      const r = await call('GET', `/v1/db/q/docs/q05?read=${mode}`);
      expect(r.status, mode).toBe(200);
      expect(r.body.data.n).toBe(5);
    }

    // _changes in pages of 5 gives every doc once; the cursor is opaque.
    const changed: string[] = [];
    let since: string | undefined;
    for (let page = 0; page < 20; page++) {
      const r = await call('GET', `/v1/db/q/_changes?limit=5${since ? `&since=${since}` : ''}`);
      expect(r.status).toBe(200);
      if (r.body.results.length === 0) break;
      changed.push(...r.body.results.map((c: { id: string }) => c.id));
      since = r.body.last;
    }
    expect([...changed].sort()).toEqual(docs.map((d) => d.id));
    // A long poll from the end returns once a new change commits.
    const waiting = call('GET', `/v1/db/q/_changes?feed=longpoll&timeout=10000&since=${since}`);
    const put = await call('PUT', '/v1/db/q/docs/late', { data: {} });
    expect(put.status).toBe(201);
    const polled = await waiting;
    // Answered by the commit, not by its 10 s timeout (which would carry no result).
    expect(polled.body.results.map((c: { id: string }) => c.id)).toEqual(['late']);
  });

  it('keeps writing with one replica of a shard SIGKILLed, and the replica catches up after a restart', async () => {
    const victim = cluster.shardNodes(0)[2]!;
    await cluster.nodes[victim]!.kill('SIGKILL');
    const ids = idsOn(0, 10, 'k');
    for (const id of ids) {
      const r = await call('PUT', `/v1/db/t/docs/${id}`, { data: { id } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.acks).toBeGreaterThanOrEqual(2);
    }
    await cluster.nodes[victim]!.restart();
    const primary = cluster.shardNodes(0)[0]!;
    await waitFor(async () => {
      const [p, v] = await Promise.all([cluster.nodeState(primary), cluster.nodeState(victim)]);
      return v.lastSeq === p.lastSeq;
    }, { timeoutMs: 10_000, message: `${victim} catches up after restart` });
    for (const id of ids) expect((await onNode(victim, id))?.id).toBe(id);
  });

  it('answers 503 quorum_not_met with two replicas paused, other shards unaffected, and converges after SIGCONT', async () => {
    const [primary, r1, r2] = cluster.shardNodes(1) as [string, string, string];
    cluster.nodes[r1]!.pause();
    cluster.nodes[r2]!.pause();
    let resumed = false;
    try {
      const [id] = idsOn(1, 1, 'paused');
      const r = await call('PUT', `/v1/db/t/docs/${id}`, { data: { paused: true } });
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ ok: false, error: 'quorum_not_met', outcome: 'indeterminate', required: 2 });
      expect(r.body.acks).toBeLessThan(2);
      expect(r.headers.get('retry-after')).toBeTruthy();

      for (const other of [0, 2]) {
        const [oid] = idsOn(other, 1, `alive${other}-`);
        const ok = await call('PUT', `/v1/db/t/docs/${oid}`, { data: { other } });
        expect(ok.status, JSON.stringify(ok.body)).toBe(201);
      }
      cluster.nodes[r1]!.resume();
      cluster.nodes[r2]!.resume();
      resumed = true;

      // The indeterminate write becomes durable once the replicas answer again.
      await waitFor(async () => {
        const states = await Promise.all([primary, r1, r2].map((n) => cluster.nodeState(n)));
        return states.every((s) => s.lastSeq === states[0]!.lastSeq);
      }, { timeoutMs: 10_000, message: 'shard 1 nodes report the same lastSeq' });
      const [a, b, c] = await Promise.all([primary, r1, r2].map(allDocsOf));
      expect(b).toEqual(a);
      expect(c).toEqual(a);
      expect((await call('GET', `/v1/db/t/docs/${id}`)).status).toBe(200);
    } finally {
      if (!resumed) {
        cluster.nodes[r1]!.resume();
        cluster.nodes[r2]!.resume();
      }
    }
  });

  it('no process crashed along the way', () => {
    expect(cluster.unexpectedExits()).toEqual([]);
  });

  it('exits 0 on SIGTERM, even with a long poll open', async () => {
    const poll = fetch(`${url}/v1/db/t/_changes?feed=longpoll&timeout=60000&since=${encodeURIComponent((await call('GET', '/v1/db/t/_changes?limit=1000')).body.last)}`)
      .then((r) => r.status, () => 'closed');
    // stop() escalates to SIGKILL after 10 s: exit code 0 means the long poll did not hold shutdown.
    const exit = await cluster.router.stop(10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    // Released with an answer if it was waiting; refused if SIGTERM beat it to the router (covered in-process by router-app).
    expect([200, 'closed']).toContain(await poll);
  });

  it('a restarted router rebuilds its view from the nodes and keeps serving', async () => {
    await cluster.router.restart();
    await waitFor(async () => (await call('GET', '/readyz')).status === 200, { timeoutMs: 10_000, message: 'restarted router ready' });
    const cl = await call('GET', '/v1/_cluster');
    for (const shard of cl.body.shards) {
      expect(shard.primaryId).toBe(cluster.shardNodes(shard.id)[0]);
      expect(shard.commitSeq).toBeGreaterThan(0); // learned from the nodes, not from memory
    }
    expect((await call('GET', '/v1/db/t/docs/spread0')).status).toBe(200);
    for (let s = 0; s < SHARDS; s++) {
      const [id] = idsOn(s, 1, 'reborn');
      const r = await call('PUT', `/v1/db/t/docs/${id}`, { data: { s } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.acks).toBeGreaterThanOrEqual(2);
    }
  });
});
