import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { build } from '../../router/app.ts';
import { Shards } from '../../router/replication/shards.ts';
import { HealthMonitor } from '../../router/failover/health-monitor.ts';
import { REPLICATION_PREFIX } from '../../src/core/protocol.ts';
import { systemClock } from '../../src/core/clock.ts';
import { parseConfig, type Config } from '../../src/core/config/index.ts';
import { createLogger } from '../../src/core/logger.ts';
import { createRouterMetrics, Registry } from '../../src/core/metrics.ts';
import type { LogEntry, NodeState, ReplicateRequest } from '../../src/core/protocol.ts';

// The router app against tiny in-process fake shard nodes on 127.0.0.1:
// validation at the edge, pass-through of the node's 4xx, and the 503
// shapes (no_primary, quorum_not_met) with their timing bound.

const SECRET = 'component-secret';
const WRITE_TIMEOUT_MS = 600;

type ReplicateMode = 'ack' | 'hang';

class FakeNode {
  readonly id: string;
  readonly app: FastifyInstance;
  url = '';
  state: NodeState;
  log: LogEntry[] = [];
  replicateMode: ReplicateMode = 'ack';
  received: ReplicateRequest[] = [];
  /** Overrides the answer to a document write: return [status, body]. */
  onWrite: ((method: string, url: string, body: unknown) => [number, unknown] | null) | null = null;
  docs = new Map<string, Record<string, unknown>>();
  authFailures = 0;
  /** Document and db writes this node was sent. */
  writes = 0;

  constructor(id: string, role: 'primary' | 'replica', term = 1) {
    this.id = id;
    this.state = {
      nodeId: id, shardId: 0, role, term, votedFor: null, primaryId: role === 'primary' ? id : null,
      lastSeq: 0, lastTerm: 0, commitSeq: 0, oldestSeq: 1, ready: true, rollbackCount: 0,
    };
    this.app = Fastify({ forceCloseConnections: true, bodyLimit: 64 * 1024 * 1024 });
    this.app.addHook('onRequest', async (req, reply) => {
      if (req.headers.authorization !== `Bearer ${SECRET}`) {
        this.authFailures++;
        return reply.status(401).send({ ok: false, error: 'unauthorized', message: 'no' });
      }
    });
    this.app.get('/v1/_replication/state', async () => this.state);
    this.app.get<{ Querystring: { since: string; limit: string } }>('/v1/_replication/wal', async (req) => {
      const since = Number(req.query.since);
      return { entries: this.log.filter((e) => e.seq > since).slice(0, Number(req.query.limit)), lastSeq: this.state.lastSeq, oldestSeq: 1 };
    });
    this.app.post<{ Body: ReplicateRequest }>('/v1/_replication/replicate', async (req) => {
      this.received.push(req.body);
      if (this.replicateMode === 'hang') return new Promise(() => undefined);
      const r = req.body;
      if (r.prevSeq > this.state.lastSeq) {
        return { ok: false, error: 'gap', message: 'gap', lastSeq: this.state.lastSeq, lastTerm: this.state.lastTerm, mismatch: false };
      }
      for (const e of r.entries) if (e.seq > this.state.lastSeq) this.append(e);
      return { ok: true, term: this.state.term, lastSeq: this.state.lastSeq, lastTerm: this.state.lastTerm, rolledBack: 0 };
    });
    const write = async (req: { method: string; url: string; body: unknown; headers: Record<string, unknown>; params: unknown }, reply: { status(n: number): { send(b: unknown): unknown } }) => {
      this.writes++;
      const custom = this.onWrite?.(req.method, req.url, req.body);
      if (custom) return reply.status(custom[0]).send(custom[1]);
      if (this.state.role !== 'primary') {
        return reply.status(409).send({ ok: false, error: 'not_primary', message: 'not primary', term: this.state.term, primaryId: this.state.primaryId });
      }
      if (Number(req.headers['x-tessera-term']) !== this.state.term) {
        return reply.status(409).send({ ok: false, error: 'stale_term', message: 'stale', term: this.state.term, primaryId: this.id });
      }
      const id = (req.params as { id?: string }).id ?? (req.body as { id?: string } | undefined)?.id ?? '';
      const entry: LogEntry = { seq: this.state.lastSeq + 1, term: this.state.term, op: id ? 'put' : 'db_create', db: 'd', id, rev: '1-x', doc: null, ts: 0 };
      this.append(entry);
      const doc = { id, rev: '1-x', data: (req.body as { data?: unknown } | undefined)?.data ?? {} };
      if (id) this.docs.set(id, doc);
      return reply.status(201).send(id ? { ...doc, seq: entry.seq, entries: [entry] } : { ok: true, db: 'd', seq: entry.seq, entries: [entry] });
    };
    this.app.put('/v1/db/:db', write);
    this.app.put('/v1/db/:db/docs/:id', write);
    this.app.post('/v1/db/:db/docs', write);
    this.app.get<{ Params: { id: string } }>('/v1/db/:db/docs/:id', async (req, reply) => {
      const doc = this.docs.get(req.params.id);
      if (!doc) return reply.status(404).send({ ok: false, error: 'not_found', message: `document ${req.params.id} not found` });
      return doc;
    });
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

let nodes: FakeNode[] = [];
let shards: Shards | null = null;
let app: FastifyInstance | null = null;
let poller: HealthMonitor | null = null;

afterEach(async () => {
  poller?.stop();
  poller = null;
  await app?.close();
  await shards?.stop();
  await Promise.all(nodes.map((n) => n.app.close()));
  nodes = [];
  shards = null;
  app = null;
});

async function setup(roles: Array<'primary' | 'replica'> = ['primary', 'replica', 'replica']) {
  nodes = await Promise.all(roles.map((r, i) => new FakeNode(`n${i}`, r).start()));
  const config: Readonly<Config> = parseConfig({
    cluster: { name: 'c', secret: SECRET },
    router: { url: 'http://127.0.0.1:1' },
    replication: { writeQuorum: 2, healthCheckIntervalMs: 100, failoverTimeoutMs: 1000, writeTimeoutMs: WRITE_TIMEOUT_MS },
    shards: [{ id: 0, nodes: nodes.map((n) => ({ id: n.id, url: n.url })) }],
  }, { baseDir: '/tmp' });
  const log = createLogger({ name: 'router-test', level: 'silent' });
  const registry = new Registry();
  const metrics = createRouterMetrics(registry);
  shards = new Shards({ config, clock: systemClock, log, metrics });
  await shards.discover(Date.now() + 2000);
  const s = shards;
  // Views kept fresh as in production, without elections: these fakes do not vote.
  const byId = new Map(s.nodes().map((n) => [n.id, n.client]));
  poller = new HealthMonitor({
    nodes: s.nodes().map((n) => ({ id: n.id, url: n.client.url })), intervalMs: 100, clock: systemClock,
    poll: async (id) => (await byId.get(id)!.json<NodeState>({ path: `${REPLICATION_PREFIX}/state`, timeoutMs: 80 })).body,
    onObservation: (id, st, now) => s.observe(id, st, now),
  });
  poller.start();
  app = build({ config, shards, clock: systemClock, logger: log, registry, metrics });
  // Compiling the route schemas blocks the event loop for a while: do it before any health judgement.
  await app.ready();
  return app;
}

const json = (res: { body: string }) => JSON.parse(res.body);

describe('router app: edge validation', () => {
  it('answers 413 payload_too_large for a 2 MiB body without reaching a node', async () => {
    const a = await setup();
    const res = await a.inject({ method: 'PUT', url: '/v1/db/d/docs/x', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ data: { b: 'x'.repeat(2 * 1024 * 1024) } }) });
    expect(res.statusCode).toBe(413);
    expect(json(res)).toMatchObject({ ok: false, error: 'payload_too_large' });
    expect(nodes[0]!.docs.size).toBe(0);
  });

  it.each([
    ['malformed JSON', { method: 'PUT', url: '/v1/db/d/docs/x', payload: '{"data":', headers: { 'content-type': 'application/json' } }],
    ['data not an object', { method: 'PUT', url: '/v1/db/d/docs/x', payload: { data: 'text' } }],
    ['tags not an array', { method: 'PUT', url: '/v1/db/d/docs/x', payload: { data: {}, tags: 'a' } }],
    ['bad db name', { method: 'PUT', url: '/v1/db/Bad!' }],
    ['300-char id', { method: 'PUT', url: `/v1/db/d/docs/${'a'.repeat(300)}`, payload: { data: {} } }],
    ['unknown read mode', { method: 'GET', url: '/v1/db/d/docs/x?read=sometimes' }],
    ['DELETE without rev', { method: 'DELETE', url: '/v1/db/d/docs/x' }],
    ['limit out of range', { method: 'GET', url: '/v1/db/d/_all_docs?limit=5000' }],
    ['garbage _changes cursor', { method: 'GET', url: '/v1/db/d/_changes?since=%25%25' }],
  ] as const)('400 bad_request: %s', async (_name, req) => {
    const a = await setup();
    const res = await a.inject(req as never);
    expect(res.statusCode).toBe(400);
    expect(json(res)).toMatchObject({ ok: false, error: 'bad_request' });
    expect(typeof json(res).message).toBe('string');
  });

  it('answers an unknown route with a JSON 404', async () => {
    const a = await setup();
    const res = await a.inject({ method: 'GET', url: '/v2/whatever' });
    expect(res.statusCode).toBe(404);
    expect(json(res)).toMatchObject({ ok: false, error: 'not_found' });
  });
});

describe('router app: pass-through and success', () => {
  it('writes through the primary, relays the entry in order to the replicas, answers with shard and acks', async () => {
    const a = await setup();
    for (const id of ['a', 'b', 'c']) {
      const res = await a.inject({ method: 'PUT', url: `/v1/db/d/docs/${id}`, payload: { data: { id } } });
      expect(res.statusCode).toBe(201);
      const body = json(res);
      expect(body).toMatchObject({ id, shard: 0 });
      expect(body.acks).toBeGreaterThanOrEqual(2);
      expect(body).not.toHaveProperty('entries');
    }
    for (const r of nodes.slice(1)) {
      const relayed = r.received.flatMap((q) => q.entries.map((e) => e.seq));
      // Every seq at most once, in order (one batch in flight, no re-sends on the happy path).
      expect(relayed).toEqual([...relayed].sort((x, y) => x - y));
      expect(new Set(relayed).size).toBe(relayed.length);
      expect(r.received.every((q) => q.term === 1 && q.primaryId === 'n0')).toBe(true);
    }
    expect(nodes[1]!.state.lastSeq + nodes[2]!.state.lastSeq).toBeGreaterThanOrEqual(3);
  });

  it('generates a routable id for POST and sets Location', async () => {
    const a = await setup();
    const res = await a.inject({ method: 'POST', url: '/v1/db/d/docs', payload: { data: { x: 1 } } });
    expect(res.statusCode).toBe(201);
    const id = json(res).id as string;
    expect(id).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(res.headers.location).toBe(`/v1/db/d/docs/${id}`);
  });

  it('passes a 409 conflict and a 404 from the node through unchanged', async () => {
    const a = await setup();
    nodes[0]!.onWrite = () => [409, { ok: false, error: 'conflict', message: 'Document update conflict', currentRev: '2-abc' }];
    const c = await a.inject({ method: 'PUT', url: '/v1/db/d/docs/x', payload: { data: {}, rev: `1-${'0'.repeat(40)}` } });
    expect(c.statusCode).toBe(409);
    expect(json(c)).toMatchObject({ ok: false, error: 'conflict', currentRev: '2-abc' });
    const nf = await a.inject({ method: 'GET', url: '/v1/db/d/docs/nope' });
    expect(nf.statusCode).toBe(404);
    expect(json(nf)).toMatchObject({ ok: false, error: 'not_found' });
  });

  it('follows a not_primary answer to the new primary and retries once', async () => {
    const a = await setup();
    // n1 was elected at term 2 by someone else; n0 stepped down.
    nodes[0]!.state = { ...nodes[0]!.state, role: 'replica', term: 2, primaryId: 'n1' };
    nodes[1]!.state = { ...nodes[1]!.state, role: 'primary', term: 2, primaryId: 'n1' };
    nodes[2]!.state = { ...nodes[2]!.state, term: 2, primaryId: 'n1' };
    const res = await a.inject({ method: 'PUT', url: '/v1/db/d/docs/moved', payload: { data: {} } });
    expect(res.statusCode, res.body).toBe(201);
    expect(nodes[1]!.docs.has('moved')).toBe(true);
    // One attempt at the old primary, one retry at the new one.
    expect([nodes[0]!.writes, nodes[1]!.writes, nodes[2]!.writes]).toEqual([1, 1, 0]);
  });
});

describe('router app: 503 shapes', () => {
  it('answers 503 no_primary (not_applied, Retry-After) when no node is primary', async () => {
    const a = await setup(['replica', 'replica', 'replica']);
    const res = await a.inject({ method: 'PUT', url: '/v1/db/d/docs/x', payload: { data: {} } });
    expect(res.statusCode).toBe(503);
    expect(json(res)).toMatchObject({ ok: false, error: 'no_primary', outcome: 'not_applied' });
    expect(res.headers['retry-after']).toBeDefined();
    const ready = await a.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(json(ready)).toMatchObject({ ready: false });
  });

  it('answers 503 quorum_not_met (indeterminate, acks, required) at writeTimeoutMs when replicas do not ack', async () => {
    const a = await setup();
    for (const r of nodes.slice(1)) r.replicateMode = 'hang';
    const started = Date.now();
    const res = await a.inject({ method: 'PUT', url: '/v1/db/d/docs/x', payload: { data: {} } });
    const took = Date.now() - started;
    expect(res.statusCode).toBe(503);
    expect(json(res)).toMatchObject({ ok: false, error: 'quorum_not_met', outcome: 'indeterminate', acks: 1, required: 2 });
    expect(res.headers['retry-after']).toBeDefined();
    // It waited for the deadline (it cannot answer earlier); an upper bound is the bench's business on shared cores.
    expect(took).toBeGreaterThanOrEqual(WRITE_TIMEOUT_MS - 50);
  });

  it('answers a db create that reaches no quorum with 503 and per-shard results', async () => {
    const a = await setup();
    for (const r of nodes.slice(1)) r.replicateMode = 'hang';
    const res = await a.inject({ method: 'PUT', url: '/v1/db/d' });
    expect(res.statusCode).toBe(503);
    const body = json(res);
    expect(body.error).toBe('quorum_not_met');
    expect(body.shards).toEqual([expect.objectContaining({ shard: 0, ok: false, error: 'quorum_not_met' })]);
  });
});

describe('router app: write pause (switchover hook)', () => {
  it('holds writes while paused and sends them on resume', async () => {
    const a = await setup();
    const rt = shards!.list[0]!;
    rt.pauseWrites();
    const pending = a.inject({ method: 'PUT', url: '/v1/db/d/docs/held', payload: { data: {} } });
    await waitForCondition(() => rt.writesHeld === 1);
    expect(nodes[0]!.docs.has('held')).toBe(false);
    rt.resumeWrites();
    const res = await pending;
    expect(res.statusCode).toBe(201);
    expect(nodes[0]!.docs.has('held')).toBe(true);
  });

  it('answers 503 no_primary (not applied) when the pause outlasts the write deadline', async () => {
    const a = await setup();
    shards!.list[0]!.pauseWrites();
    const res = await a.inject({ method: 'PUT', url: '/v1/db/d/docs/late', payload: { data: {} } });
    expect(res.statusCode).toBe(503);
    expect(json(res)).toMatchObject({ error: 'no_primary', outcome: 'not_applied' });
    expect(nodes[0]!.docs.has('late')).toBe(false);
  });
});

describe('router app: _changes long poll', () => {
  it('answers an empty long poll at its timeout with the cursor unchanged', async () => {
    const a = await setup();
    const started = Date.now();
    const res = await a.inject({ method: 'GET', url: '/v1/db/d/_changes?feed=longpoll&timeout=300' });
    expect(res.statusCode).toBe(200);
    expect(json(res).results).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const again = await a.inject({ method: 'GET', url: `/v1/db/d/_changes?since=${json(res).last}` });
    expect(again.statusCode).toBe(200);
  });

  it('releases a pending long poll when the server closes', async () => {
    const a = await setup();
    const started = Date.now();
    const pending = a.inject({ method: 'GET', url: '/v1/db/d/_changes?feed=longpoll&timeout=30000' });
    // Let the poll reach its wait; then close (as SIGTERM does).
    await waitForCondition(() => shards!.list[0]!.waitingLongPolls() > 0);
    const closing = a.close();
    const res = await pending;
    await closing;
    app = null;
    expect(res.statusCode).toBe(200);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

async function waitForCondition(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}

describe('router app: operator routes', () => {
  it('exposes Prometheus metrics with quorum waits, acks and relay batches', async () => {
    const a = await setup();
    expect((await a.inject({ method: 'PUT', url: '/v1/db/d/docs/m', payload: { data: {} } })).statusCode).toBe(201);
    const res = await a.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/tessera_quorum_wait_seconds_count\{shard="0",outcome="ok"\} 1/);
    expect(res.body).toMatch(/tessera_write_acks_count\{shard="0"\} 1/);
    expect(res.body).toContain('tessera_relay_batch_entries_bucket');
    expect(res.body).toContain('tessera_http_requests_total');
  });

  it('serves healthz, readyz and the cluster table without the secret', async () => {
    const a = await setup();
    expect(json(await a.inject({ method: 'GET', url: '/healthz' }))).toEqual({ ok: true });
    const ready = await a.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode, ready.body).toBe(200);
    const res = await a.inject({ method: 'GET', url: '/v1/_cluster' });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain(SECRET);
    const shard = json(res).shards[0];
    expect(shard).toMatchObject({ id: 0, term: 1, primaryId: 'n0' });
    expect(shard.nodes.map((n: { id: string; role: string }) => [n.id, n.role])).toEqual([['n0', 'primary'], ['n1', 'replica'], ['n2', 'replica']]);
    for (const n of shard.nodes) expect(['InSync', 'Lagging', 'CatchingUp', 'Offline']).toContain(n.health);
  });
});
