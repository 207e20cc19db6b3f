import fc from 'fast-check';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { newestAnswer, type ReadAnswer } from '../../router/api/reader.ts';
import { build } from '../../router/app.ts';
import { HealthMonitor } from '../../router/failover/health-monitor.ts';
import type { ShardRuntime } from '../../router/replication/shard-runtime.ts';
import { Shards } from '../../router/replication/shards.ts';
import { systemClock, type Clock } from '../../src/core/clock.ts';
import { parseConfig, type Config } from '../../src/core/config/index.ts';
import { createLogger } from '../../src/core/logger.ts';
import { createRouterMetrics, Registry } from '../../src/core/metrics.ts';
import {
  COMMIT_HEADER, PENDING_HEADER, REPLICATION_PREFIX, SEQ_HEADER, TERM_HEADER,
  type Doc, type LogEntry, type NodeState, type ReplicateRequest, type Role,
} from '../../src/core/protocol.ts';
import { waitFor } from '../../src/launch/wait-for.ts';

// The router's read path (router/api/reader.ts, DESIGN §4 "Reads") against
// tiny in-process fake shard nodes on 127.0.0.1. A fake serves a document the
// way a real node does (shard/store/queries.ts getDoc): from its log, as of a
// read point raised by the router's x-tessera-commit, naming the seq served
// and a newer write above the read point. Replicas apply what the router
// relays, so the router's commit point moves only when a test lets a
// replica's replicate answer through.

const SECRET = 'component-secret';
const WRITE_TIMEOUT_MS = 800;
const DB = 'd';

type Answer = [status: number, body: unknown];

/** Arrival order across every fake: says which request came before which, whatever the clock reads. */
let arrivals = 0;

interface ReadSeen {
  order: number;
  term: string | undefined;
  commit: string | undefined;
  /** Filled in when the fake answers. */
  status?: number;
  seq?: number;
  pending?: number | null;
}

interface HeldReplicate {
  order: number;
  receivedAtMs: number;
  release(): void;
}

class FakeNode {
  readonly id: string;
  readonly app: FastifyInstance;
  url = '';
  role: Role;
  term: number;
  primaryId: string | null;
  log: LogEntry[];
  /** The node's own commit point (learned from the router's batches). */
  commitSeq = 0;
  /** 'hold': replicate requests wait until the test releases them (a slow or cut-off replica). */
  replicateMode: 'ack' | 'hold' = 'ack';
  held: HeldReplicate[] = [];
  reads: ReadSeen[] = [];
  /** Runs when a document read arrives: may change the node (an election elsewhere) or answer in its place. */
  beforeRead: (() => Answer | void | Promise<Answer | void>) | null = null;
  readonly #heldReads: Array<() => void> = [];

  constructor(id: string, role: Role, term: number, log: LogEntry[]) {
    this.id = id;
    this.role = role;
    this.term = term;
    this.primaryId = role === 'primary' ? id : null;
    this.log = [...log];
    this.app = Fastify({ forceCloseConnections: true });
    this.app.get(`${REPLICATION_PREFIX}/state`, async () => this.state);
    this.app.get<{ Querystring: { since: string; limit: string } }>(`${REPLICATION_PREFIX}/wal`, async (req) => {
      const since = Number(req.query.since);
      const st = this.state;
      return { entries: this.log.filter((e) => e.seq > since).slice(0, Number(req.query.limit)), lastSeq: st.lastSeq, oldestSeq: st.oldestSeq, term: this.term, role: this.role };
    });
    this.app.post<{ Body: ReplicateRequest }>(`${REPLICATION_PREFIX}/replicate`, (req, reply) => {
      if (this.replicateMode === 'ack') {
        send(reply, this.#replicate(req.body));
        return;
      }
      const held: HeldReplicate = {
        order: ++arrivals, receivedAtMs: Date.now(),
        release: () => {
          this.held = this.held.filter((h) => h !== held);
          send(reply, this.#replicate(req.body));
        },
      };
      this.held.push(held);
    });
    this.app.get<{ Params: { db: string; id: string } }>('/v1/db/:db/docs/:id', async (req, reply) => {
      const seen: ReadSeen = { order: ++arrivals, term: header(req.headers, TERM_HEADER), commit: header(req.headers, COMMIT_HEADER) };
      this.reads.push(seen);
      const custom = await this.beforeRead?.();
      if (custom) {
        seen.status = custom[0];
        return reply.status(custom[0]).send(custom[1]);
      }
      const r = this.#read(req.params.db, req.params.id, seen.term, seen.commit);
      Object.assign(seen, { status: r.status, seq: r.seq, pending: r.pending });
      if (r.status < 400 || r.status === 404) reply.header(SEQ_HEADER, String(r.seq));
      if (r.pending !== null) reply.header(PENDING_HEADER, String(r.pending));
      return reply.status(r.status).send(r.body);
    });
  }

  get state(): NodeState {
    const last = this.log.at(-1);
    return {
      nodeId: this.id, shardId: 0, role: this.role, term: this.term, votedFor: null, primaryId: this.primaryId,
      lastSeq: last?.seq ?? 0, lastTerm: last?.term ?? 0, commitSeq: this.commitSeq, oldestSeq: this.log[0]?.seq ?? 1, ready: true, rollbackCount: 0,
    };
  }

  /** What an election elsewhere (another router) left this node as. */
  becomes(role: Role, term: number, primaryId: string | null): void {
    this.role = role;
    this.term = term;
    this.primaryId = primaryId;
  }

  /** Document reads wait (a slow copy) until the test ends. */
  holdReads(): void {
    this.beforeRead = () => new Promise<Answer>((resolve) => {
      this.#heldReads.push(() => resolve([503, { ok: false, error: 'unavailable', message: 'test over' }]));
    });
  }

  releaseAll(): void {
    this.replicateMode = 'ack';
    for (const h of [...this.held]) h.release();
    for (const r of this.#heldReads.splice(0)) r();
  }

  async start(): Promise<this> {
    this.url = await this.app.listen({ host: '127.0.0.1', port: 0 });
    return this;
  }

  /** shard/store/queries.ts getDoc at shard/store/context.ts readPoint, behind assertPrimaryAt for a stamped read. */
  #read(db: string, id: string, term: string | undefined, commit: string | undefined): { status: number; body: unknown; seq: number; pending: number | null } {
    const refused = (error: string, details: Record<string, unknown>) => ({ status: 409, body: { ok: false, error, message: error, ...details }, seq: 0, pending: null });
    if (term !== undefined && this.role !== 'primary') return refused('not_primary', { primaryId: this.primaryId, term: this.term });
    if (term !== undefined && Number(term) !== this.term) return refused('stale_term', { term: this.term, primaryId: this.primaryId });
    const lastSeq = this.state.lastSeq;
    const at = commit === undefined ? this.commitSeq : Math.max(this.commitSeq, Math.min(Number(commit), lastSeq));
    const revisions = this.log.filter((e) => e.op === 'put' && e.db === db && e.id === id);
    const head = revisions.at(-1);
    const served = revisions.filter((e) => e.seq <= at).at(-1);
    const pending = head && head.seq > at ? head.seq : null;
    const seq = served?.seq ?? 0;
    if (served?.doc && !served.doc.deleted) return { status: 200, body: served.doc, seq, pending };
    return { status: 404, body: { ok: false, error: 'not_found', message: `document ${id} not found` }, seq, pending };
  }

  /** The replica side of /replicate (shard/DESIGN.md), reduced to what these tests need. */
  #replicate(r: ReplicateRequest): Answer {
    if (r.term < this.term) return [409, { ok: false, error: 'stale_term', message: 'stale', term: this.term }];
    if (r.term > this.term) this.becomes('replica', r.term, r.primaryId);
    const st = this.state;
    if (r.prevSeq > st.lastSeq) return [409, { ok: false, error: 'gap', message: 'gap', lastSeq: st.lastSeq, lastTerm: st.lastTerm, mismatch: false }];
    const endSeq = r.entries.at(-1)?.seq ?? r.prevSeq;
    this.log = [...this.log.filter((e) => e.seq <= r.prevSeq), ...r.entries, ...(r.truncate ? [] : this.log.filter((e) => e.seq > endSeq))];
    const now = this.state;
    this.commitSeq = Math.max(this.commitSeq, Math.min(r.commitSeq, now.lastSeq));
    return [200, { ok: true, term: this.term, lastSeq: now.lastSeq, lastTerm: now.lastTerm, rolledBack: 0 }];
  }
}

function send(reply: FastifyReply, [status, body]: Answer): void {
  void reply.status(status).send(body);
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

// Log entries: seq 1 creates the db, documents follow; a delete is a tombstone image.
const dbCreate = (term: number): LogEntry => ({ seq: 1, term, op: 'db_create', db: DB, id: '', rev: '', doc: null, ts: 0 });
function put(seq: number, term: number, id: string, data: Record<string, unknown>, deleted = false): LogEntry {
  const doc: Doc = { id, rev: `${seq}-${'a'.repeat(40)}`, data, ...(deleted ? { deleted: true as const } : {}) };
  return { seq, term, op: 'put', db: DB, id, rev: doc.rev, doc, ts: 0 };
}
/** Entries 1..n at `term`: the db, then `other<seq>` documents, with `docs` placed at their seqs. */
function history(n: number, term: number, docs: Record<number, LogEntry> = {}): LogEntry[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? dbCreate(term) : docs[i + 1] ?? put(i + 1, term, `other${i + 1}`, {})));
}

let nodes: FakeNode[] = [];
let shards: Shards | null = null;
let app: FastifyInstance | null = null;
let poller: HealthMonitor | null = null;

afterEach(async () => {
  // Held answers first: a stream's request in flight would otherwise hold its stop until its timeout.
  for (const n of nodes) n.releaseAll();
  poller?.stop();
  poller = null;
  await app?.close();
  await shards?.stop();
  await Promise.all(nodes.map((n) => n.app.close()));
  nodes = [];
  shards = null;
  app = null;
});

interface SetupOptions {
  /** Each node's log, in config order (n0 first). */
  logs: LogEntry[][];
  term?: number;
  /** n0 is primary unless said otherwise. */
  roles?: Role[];
  /** Nodes whose replicate answers are held from the start. */
  hold?: string[];
  replication?: Record<string, unknown>;
  clock?: Clock;
}

/** Date.now(), or one fixed reading while frozen: at millisecond resolution, whatever happens within one ms reads the same. */
class FreezableClock implements Clock {
  #frozenAt: number | null = null;
  now(): number {
    return this.#frozenAt ?? Date.now();
  }
  freeze(): void {
    this.#frozenAt = Date.now();
  }
  thaw(): void {
    this.#frozenAt = null;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    return systemClock.setTimeout(fn, ms);
  }
  clearTimeout(handle: unknown): void {
    systemClock.clearTimeout(handle);
  }
}

async function setup(o: SetupOptions): Promise<{ app: FastifyInstance; rt: ShardRuntime }> {
  const term = o.term ?? 1;
  const clock = o.clock ?? systemClock;
  const roles = o.roles ?? o.logs.map((_, i): Role => (i === 0 ? 'primary' : 'replica'));
  nodes = await Promise.all(o.logs.map((log, i) => new FakeNode(`n${i}`, roles[i]!, term, log).start()));
  for (const n of nodes) {
    if (n.role === 'replica') n.primaryId = roles.includes('primary') ? `n${roles.indexOf('primary')}` : null;
    if (o.hold?.includes(n.id)) n.replicateMode = 'hold';
  }
  const config: Readonly<Config> = parseConfig({
    cluster: { name: 'c', secret: SECRET },
    router: { url: 'http://127.0.0.1:1' },
    replication: { writeQuorum: 2, healthCheckIntervalMs: 100, failoverTimeoutMs: 1000, writeTimeoutMs: WRITE_TIMEOUT_MS, ...o.replication },
    shards: [{ id: 0, nodes: nodes.map((n) => ({ id: n.id, url: n.url })) }],
  }, { baseDir: '/tmp' });
  const log = createLogger({ name: 'router-reads-test', level: 'silent' });
  const registry = new Registry();
  const metrics = createRouterMetrics(registry);
  // A held replicate request stays held until the test releases it, not until the stream gives up on it.
  shards = new Shards({ config, clock, log, metrics, streamOptions: { requestTimeoutMs: 5000 } });
  await shards.discover(Date.now() + 2000);
  const s = shards;
  // Views kept fresh as in production, without elections: these fakes do not vote.
  const byId = new Map(s.nodes().map((n) => [n.id, n.client]));
  poller = new HealthMonitor({
    nodes: s.nodes().map((n) => ({ id: n.id, url: n.client.url })), intervalMs: 100, clock,
    poll: async (id) => (await byId.get(id)!.json<NodeState>({ path: `${REPLICATION_PREFIX}/state`, timeoutMs: 80 })).body,
    onObservation: (id, st, now) => s.observe(id, st, now),
  });
  poller.start();
  app = build({ config, shards, clock, logger: log, registry, metrics });
  // Compiling the route schemas blocks the event loop for a while: do it before any health judgement.
  await app.ready();
  return { app, rt: shards.list[0]! };
}

const json = (res: { body: string }) => JSON.parse(res.body);
const until = (check: () => boolean, message: string) => waitFor(check, { timeoutMs: 4000, intervalMs: 5, message });
const node = (id: string) => nodes.find((n) => n.id === id)!;
/** Every replica matched at `seq` and the router's commit point there: each copy serves the same committed state. */
const steady = (rt: ShardRuntime, seq: number) => until(
  () => rt.commitSeq === seq && rt.streams.size === 2 && [...rt.streams.values()].every((s) => s.matchSeq === seq),
  `commit point and every match point at ${seq}`,
);

/** A client request whose settling the test can look at while it is in flight. */
function track<T>(p: Promise<T>): { settled: boolean; atMs: number; done: Promise<T> } {
  const t = {
    settled: false, atMs: 0,
    done: p.then((v) => {
      t.settled = true;
      t.atMs = Date.now();
      return v;
    }),
  };
  return t;
}

const X = 'x';
const v1 = { v: 1 };
const v2 = { v: 2 };

describe('read=primary: term stamp and a deposed primary', () => {
  it('stamps x-tessera-term with the view term and x-tessera-commit with the router commit point', async () => {
    const log = history(3, 4, { 2: put(2, 4, X, v1) });
    const { app: a, rt } = await setup({ logs: [log, log, log], term: 4 });
    await steady(rt, 3);
    const res = await a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}` });
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toMatchObject({ id: X, data: v1 });
    expect(node('n0').reads.map((r) => [r.term, r.commit])).toEqual([['4', '3']]);
    expect(node('n1').reads.length + node('n2').reads.length).toBe(0);
  });

  it('does not serve a stale_term refusal: it looks the primary up again and serves its answer at the new term', async () => {
    const log = history(3, 1, { 3: put(3, 1, X, v1) });
    const { app: a, rt } = await setup({ logs: [log, log, log] });
    await steady(rt, 3);
    // As the read arrives, another router has re-elected n0 at term 2.
    node('n0').beforeRead = () => {
      node('n0').beforeRead = null;
      node('n0').becomes('primary', 2, 'n0');
      for (const id of ['n1', 'n2']) node(id).becomes('replica', 2, 'n0');
    };
    const res = await a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}` });
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toMatchObject({ id: X, data: v1 });
    expect(node('n0').reads.map((r) => [r.term, r.status])).toEqual([['1', 409], ['2', 200]]);
    expect(rt.view.term).toBe(2);
  });

  it('does not serve a not_primary refusal: it serves the new primary\'s newer answer', async () => {
    const old = history(3, 1, { 3: put(3, 1, X, v1) });
    const { app: a, rt } = await setup({ logs: [old, old, old] });
    await steady(rt, 3);
    // n1 won term 2 through another router and committed x = v2 on n1 and n2; n0 (deposed) never got it.
    node('n0').beforeRead = () => {
      node('n0').beforeRead = null;
      node('n0').becomes('replica', 2, 'n1');
      node('n1').becomes('primary', 2, 'n1');
      node('n2').becomes('replica', 2, 'n1');
      for (const id of ['n1', 'n2']) {
        node(id).log = [...old, put(4, 2, X, v2)];
        node(id).commitSeq = 4;
      }
    };
    const res = await a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}` });
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toMatchObject({ id: X, data: v2 });
    expect(node('n0').reads.map((r) => [r.term, r.status])).toEqual([['1', 409]]);
    expect(node('n1').reads.map((r) => [r.term, r.status])).toEqual([['2', 200]]);
  });

  it('answers 503 no_primary, not the refusal, when the term moved on and no node is primary', async () => {
    const log = history(3, 1, { 3: put(3, 1, X, v1) });
    const { app: a, rt } = await setup({ logs: [log, log, log] });
    await steady(rt, 3);
    // An election for term 2 is under way elsewhere: nobody leads it yet.
    node('n0').beforeRead = () => {
      node('n0').beforeRead = null;
      for (const n of nodes) n.becomes('replica', 2, null);
    };
    const started = Date.now();
    const res = await a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}` });
    expect(res.statusCode, res.body).toBe(503);
    expect(json(res)).toMatchObject({ ok: false, error: 'no_primary' });
    expect(res.headers['retry-after']).toBeDefined();
    expect(Date.now() - started).toBeLessThan(WRITE_TIMEOUT_MS + 1000);
    expect(node('n0').reads.map((r) => r.status)).toEqual([409]);
    expect(node('n1').reads.length + node('n2').reads.length).toBe(0);
  });
});

describe('read=primary: a pending write is waited for', () => {
  // n0 holds x = v1 at seq 3 (committed) and x = v2 at seq 5 (not yet on any replica).
  const primaryLog = history(5, 1, { 3: put(3, 1, X, v1), 5: put(5, 1, X, v2) });
  const replicaLog = primaryLog.slice(0, 3);

  it('holds the answer until the commit point reaches the pending seq, then asks again and serves the newer value', async () => {
    const { app: a, rt } = await setup({ logs: [primaryLog, replicaLog, replicaLog], hold: ['n1', 'n2'] });
    await until(() => rt.commitSeq === 3 && node('n1').held.length > 0 && node('n2').held.length > 0, 'commit 3, entries 4..5 held at both replicas');
    const read = track(a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}` }));
    await until(() => node('n0').reads.length === 1, 'the first read at the primary');
    expect(node('n0').reads[0]).toMatchObject({ commit: '3', status: 200, seq: 3, pending: 5 });
    expect(read.settled).toBe(false);
    const releasedAtMs = Date.now();
    node('n1').releaseAll();
    const res = await read.done;
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toMatchObject({ id: X, data: v2 });
    expect(read.atMs).toBeGreaterThanOrEqual(releasedAtMs);
    // Exactly one more read, at the new commit point: it waited, it did not poll.
    expect(node('n0').reads.map((r) => [r.commit, r.seq])).toEqual([['3', 3], ['5', 5]]);
  });

  it('answers 503 at the deadline, never the old value, when the pending write does not commit', async () => {
    const { app: a, rt } = await setup({ logs: [primaryLog, replicaLog, replicaLog], hold: ['n1', 'n2'] });
    await until(() => rt.commitSeq === 3 && node('n1').held.length > 0 && node('n2').held.length > 0, 'commit 3, entries 4..5 held at both replicas');
    const started = Date.now();
    const res = await a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}` });
    const took = Date.now() - started;
    expect(res.statusCode, res.body).toBe(503);
    // (Its message names the commit wait, or the last attempt cut short by the deadline.)
    expect(json(res)).toMatchObject({ ok: false, error: 'no_primary' });
    expect(res.body).not.toContain('"v":1');
    expect(took).toBeGreaterThanOrEqual(WRITE_TIMEOUT_MS - 50);
    expect(took).toBeLessThan(WRITE_TIMEOUT_MS + 1000);
    expect(node('n0').reads.every((r) => r.commit === '3')).toBe(true);
  });
});

describe('read=primary: leadership confirmation (read index)', () => {
  const log = history(3, 1, { 3: put(3, 1, X, v1) });

  /**
   * Steady state, then every replicate request held: whatever the replicas answered so far, and
   * the heartbeat each has in flight, predate the read (the clock has moved past them too).
   */
  async function heldCluster(clock?: Clock) {
    const s = await setup({ logs: [log, log, log], ...(clock ? { clock } : {}) });
    await steady(s.rt, 3);
    for (const id of ['n1', 'n2']) node(id).replicateMode = 'hold';
    await until(() => node('n1').held.length === 1 && node('n2').held.length === 1, 'a heartbeat held at each replica');
    const heldAtMs = Math.max(...['n1', 'n2'].map((id) => node(id).held[0]!.receivedAtMs));
    await until(() => Date.now() > heldAtMs, 'the clock past the held heartbeats');
    return s;
  }

  it('answers 503 within the deadline, not the primary\'s answer, while no replica answers', async () => {
    const { app: a } = await heldCluster();
    const started = Date.now();
    const res = await a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}` });
    const took = Date.now() - started;
    expect(res.statusCode, res.body).toBe(503);
    expect(json(res)).toMatchObject({ ok: false, error: 'no_primary' });
    expect(res.body).not.toContain('"v":1');
    expect(took).toBeLessThan(WRITE_TIMEOUT_MS + 1000);
    // The primary did answer: it was the router that would not serve it.
    expect(node('n0').reads.length).toBeGreaterThanOrEqual(1);
    expect(node('n0').reads[0]!.status).toBe(200);
  });

  it('counts only replicate answers to requests sent after the read began, and serves once one arrives', async () => {
    const { app: a, rt } = await heldCluster();
    const read = track(a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}` }));
    await until(() => node('n0').reads.length === 1, 'the read at the primary');
    const readOrder = node('n0').reads[0]!.order;
    expect(node('n0').reads[0]!.status).toBe(200);
    // Answer the heartbeats that were sent before the read: they prove nothing about now.
    for (const id of ['n1', 'n2']) {
      const before = node(id).held.filter((h) => h.order < readOrder);
      expect(before).toHaveLength(1);
      before[0]!.release();
    }
    // Each stream, having seen those answers, asks again for the read (and that request is held).
    await until(() => ['n1', 'n2'].every((id) => node(id).held.some((h) => h.order > readOrder)), 'a fresh heartbeat at each replica');
    expect(read.settled).toBe(false);
    expect(rt.confirmSinceMs).not.toBeNull();
    // W − 1 = 1 replica answering a request sent after the read began is enough.
    const releasedAtMs = Date.now();
    node('n1').held[0]!.release();
    const res = await read.done;
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toMatchObject({ id: X, data: v1 });
    expect(read.atMs).toBeGreaterThanOrEqual(releasedAtMs);
    expect(node('n0').reads).toHaveLength(1);
  });

  it('does not count a heartbeat sent before the read began within the same clock reading', async () => {
    // On loopback a heartbeat and a read often fall in the same millisecond; being sent in the
    // same ms as the read began does not make a request sent after it.
    const clock = new FreezableClock();
    const { app: a } = await heldCluster(clock);
    clock.freeze();
    // Read A makes each stream send a heartbeat at the frozen reading (once its old one is answered).
    const readA = track(a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}` }));
    await until(() => node('n0').reads.length === 1, 'read A at the primary');
    const aOrder = node('n0').reads[0]!.order;
    for (const id of ['n1', 'n2']) node(id).held[0]!.release();
    await until(() => ['n1', 'n2'].every((id) => node(id).held.some((h) => h.order > aOrder)), 'heartbeats for read A');
    // Read B begins after those heartbeats were sent (and received).
    const readB = track(a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}` }));
    await until(() => node('n0').reads.length === 2, 'read B at the primary');
    const bOrder = node('n0').reads[1]!.order;
    for (const id of ['n1', 'n2']) {
      const forA = node(id).held;
      expect(forA.map((h) => h.order < bOrder)).toEqual([true]);
      forA[0]!.release();
    }
    // Either B is served on answers to requests sent before it began (wrong), or the streams ask again for it.
    await until(() => readB.settled || ['n1', 'n2'].every((id) => node(id).held.some((h) => h.order > bOrder)), 'read B served, or heartbeats for it');
    expect(readB.settled, 'read B was confirmed by heartbeats sent before it began').toBe(false);
    clock.thaw();
    for (const id of ['n1', 'n2']) node(id).releaseAll();
    expect((await readB.done).statusCode).toBe(200);
    expect((await readA.done).statusCode).toBe(200);
  });
});

describe('read=any', () => {
  // n1 lags at seq 3 (its batch 4..5 is held) while n0 and n2 hold 1..5: commit point 5, n1's match point 3.
  const full = history(5, 1, { 3: put(3, 1, X, v1), 5: put(5, 1, X, v2) });
  const lagging = full.slice(0, 3);

  async function laggingReplica() {
    const s = await setup({ logs: [full, lagging, full], hold: ['n1'] });
    await until(() => s.rt.commitSeq === 5 && s.rt.streams.get('n1')?.matchSeq === 3 && node('n1').held.length > 0, 'commit 5 with n1 matched at 3');
    return s;
  }

  it('asks a replica first, at min(router commit point, its match point)', async () => {
    const { app: a } = await laggingReplica();
    const res = await a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}?read=any` });
    expect(res.statusCode, res.body).toBe(200);
    // Committed, possibly stale: n1 served what it holds at its match point.
    expect(json(res)).toMatchObject({ id: X, data: v1 });
    expect(node('n1').reads.map((r) => [r.term, r.commit, r.seq])).toEqual([[undefined, '3', 3]]);
    expect(node('n0').reads.length + node('n2').reads.length).toBe(0);
  });

  it('lets the next copy answer when a replica answers 503', async () => {
    const { app: a } = await laggingReplica();
    node('n1').beforeRead = () => [503, { ok: false, error: 'unavailable', message: 'catching up' }];
    const res = await a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}?read=any` });
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toMatchObject({ id: X, data: v2 });
    expect(node('n1').reads.map((r) => r.commit)).toEqual(['3']);
    expect(node('n2').reads.map((r) => [r.commit, r.seq])).toEqual([['5', 5]]);
    expect(node('n0').reads).toHaveLength(0);
  });
});

describe('read=quorum: only when readQuorum + writeQuorum > nodes', () => {
  const log = history(3, 1, { 3: put(3, 1, X, v1) });

  it('answers 400 bad_request naming the rule, and reads no node, with readQuorum 1 and writeQuorum 2 of 3', async () => {
    const { app: a } = await setup({ logs: [log, log, log] });
    const res = await a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}?read=quorum` });
    expect(res.statusCode, res.body).toBe(400);
    expect(json(res)).toMatchObject({ ok: false, error: 'bad_request' });
    expect(json(res).message).toContain('readQuorum + writeQuorum > nodes');
    expect(nodes.map((n) => n.reads.length)).toEqual([0, 0, 0]);
  });

  it('serves it anyway with allowUnsafeQuorum', async () => {
    const { app: a, rt } = await setup({ logs: [log, log, log], replication: { allowUnsafeQuorum: true } });
    await steady(rt, 3);
    const res = await a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}?read=quorum` });
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toMatchObject({ id: X, data: v1 });
    expect(nodes.reduce((sum, n) => sum + n.reads.length, 0)).toBeGreaterThanOrEqual(1);
  });
});

describe('read=quorum with readQuorum 2 of 3', () => {
  it('serves the newest answer by seq: a tombstone\'s 404 over a lagging copy\'s older 200', async () => {
    // x = v1 at 3, deleted at 5; n0 and n2 hold the delete (committed), n1 lags at 3.
    const full = history(5, 1, { 3: put(3, 1, X, v1), 5: put(5, 1, X, {}, true) });
    const { app: a, rt } = await setup({ logs: [full, full.slice(0, 3), full], hold: ['n1'], replication: { readQuorum: 2 } });
    await until(() => rt.commitSeq === 5 && rt.streams.get('n1')?.matchSeq === 3, 'commit 5 with n1 matched at 3');
    // n2 is slow: the two answers are the primary's 404 and n1's 200.
    node('n2').holdReads();
    const res = await a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}?read=quorum` });
    expect(node('n1').reads.map((r) => [r.commit, r.status, r.seq])).toEqual([['3', 200, 3]]);
    expect(node('n0').reads.map((r) => [r.commit, r.status, r.seq])).toEqual([['5', 404, 5]]);
    expect(res.statusCode, res.body).toBe(404);
    expect(json(res)).toMatchObject({ ok: false, error: 'not_found' });
  });

  it('waits for a write a copy reports pending above the best seq, then asks again and serves it', async () => {
    const primaryLog = history(5, 1, { 3: put(3, 1, X, v1), 5: put(5, 1, X, v2) });
    const replicaLog = primaryLog.slice(0, 3);
    const { app: a, rt } = await setup({ logs: [primaryLog, replicaLog, replicaLog], hold: ['n1', 'n2'], replication: { readQuorum: 2 } });
    await until(() => rt.commitSeq === 3 && node('n1').held.length > 0, 'commit 3, entries 4..5 held');
    node('n2').holdReads();
    const read = track(a.inject({ method: 'GET', url: `/v1/db/${DB}/docs/${X}?read=quorum` }));
    await until(() => node('n0').reads.length === 1 && node('n1').reads.length === 1, 'the first round at n0 and n1');
    expect(node('n0').reads[0]).toMatchObject({ commit: '3', seq: 3, pending: 5 });
    expect(node('n1').reads[0]).toMatchObject({ commit: '3', seq: 3, pending: null });
    expect(read.settled).toBe(false);
    const releasedAtMs = Date.now();
    node('n1').releaseAll();
    const res = await read.done;
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toMatchObject({ id: X, data: v2 });
    expect(read.atMs).toBeGreaterThanOrEqual(releasedAtMs);
    expect(node('n0').reads.map((r) => [r.commit, r.seq])).toEqual([['3', 3], ['5', 5]]);
    expect(node('n1').reads.map((r) => [r.commit, r.seq])).toEqual([['3', 3], ['5', 5]]);
  });
});

describe('newestAnswer', () => {
  const answers = fc.uniqueArray(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 8 }).chain((seqs) => {
    const list = seqs.map((seq): ReadAnswer => ({ status: seq % 3 === 0 ? 404 : 200, body: { seq }, seq }));
    return fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }));
  });

  it('picks the answer with the highest seq, whatever order the copies answered in', () => {
    fc.assert(fc.property(answers, ([list, shuffled]) => {
      const top = list.reduce((a, b) => (b.seq > a.seq ? b : a));
      expect(newestAnswer(shuffled)).toBe(top);
      expect(newestAnswer(list)).toBe(top);
    }), { numRuns: 500 });
  });

  it('picks a highest seq among copies that share seqs (the same revision)', () => {
    fc.assert(fc.property(fc.array(fc.nat({ max: 5 }), { minLength: 1, maxLength: 8 }), (seqs) => {
      const list = seqs.map((seq): ReadAnswer => ({ status: 200, body: { seq }, seq }));
      expect(newestAnswer(list).seq).toBe(Math.max(...seqs));
    }), { numRuns: 500 });
  });
});
