import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Shards } from '../../router/replication/shards.ts';
import { writeToShard } from '../../router/api/writer.ts';
import { build as buildShard } from '../../shard/app.ts';
import { GroupCommit, Store } from '../../shard/store/index.ts';
import { systemClock } from '../../src/core/clock.ts';
import { parseConfig, type Config } from '../../src/core/config/index.ts';
import { waitFor } from '../../src/launch/wait-for.ts';
import { createLogger } from '../../src/core/logger.ts';

// The router's replication engine against real shard nodes (Store + app)
// in this process: probing a diverged log into a rollback, and installing a
// snapshot on a replica that fell behind the primary's trimmed WAL. Nodes
// "go down" by closing their HTTP app (the SQLite store stays open).

const SECRET = 'replication-secret';
const log = createLogger({ name: 'router-replication-test', level: 'silent' });

interface Node {
  id: string;
  store: Store;
  commit: GroupCommit;
  app: FastifyInstance | null;
  port: number;
}

let dir = '';
let nodes: Node[] = [];
let shards: Shards | null = null;

afterEach(async () => {
  await shards?.stop();
  shards = null;
  for (const n of nodes) {
    await n.app?.close();
    await n.commit.drain();
    n.store.close();
  }
  nodes = [];
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

function nodeConfig(walRetention: number): Readonly<Config> {
  return parseConfig({
    cluster: { name: 't', secret: SECRET },
    router: { url: 'http://127.0.0.1:1' },
    replication: { walRetention, healthCheckIntervalMs: 100, failoverTimeoutMs: 500, writeTimeoutMs: 2000 },
    shards: [{ id: 0, nodes: ['a', 'b', 'c'].map((id, i) => ({ id, url: `http://127.0.0.1:${2 + i}` })) }],
  }, { baseDir: dir });
}

async function listen(n: Node, cfg: Readonly<Config>): Promise<void> {
  n.app = await buildShard({ store: n.store, commit: n.commit, config: cfg });
  await n.app.listen({ host: '127.0.0.1', port: n.port });
  n.port = (n.app.server.address() as { port: number }).port;
}

async function startNodes(walRetention = 100_000): Promise<Readonly<Config>> {
  dir = mkdtempSync(join(tmpdir(), 'tessera-router-repl-'));
  const cfg = nodeConfig(walRetention);
  nodes = ['a', 'b', 'c'].map((id) => {
    const store = new Store({ path: join(dir, `${id}.db`), nodeId: id, shardId: 0, initial: { role: id === 'a' ? 'primary' : 'replica', primaryId: 'a', joined: true }, walRetention });
    const commit = new GroupCommit(store, { onFlush: () => { store.trim(); } });
    return { id, store, commit, app: null, port: 0 };
  });
  for (const n of nodes) await listen(n, cfg);
  return cfg;
}

async function startRouter(cfg: Readonly<Config>): Promise<Shards> {
  const routerCfg = parseConfig({
    ...structuredClone(cfg),
    shards: [{ id: 0, nodes: nodes.map((n) => ({ id: n.id, url: `http://127.0.0.1:${n.port}` })) }],
  }, { baseDir: dir });
  shards = new Shards({ config: routerCfg, clock: systemClock, log });
  await shards.discover(Date.now() + 2000);
  return shards;
}

const ctx = { clock: systemClock, writeTimeoutMs: 2000 };
const node = (id: string) => nodes.find((n) => n.id === id)!;

async function put(s: Shards, path: string, body?: unknown) {
  return writeToShard(ctx, s.list[0]!, { method: 'PUT', path, body }, Date.now() + 2000);
}

function docsOf(id: string): string {
  const st = node(id).store;
  return st.allDocsJson('d', { skip: 0, limit: 1000, includeDeleted: true }, st.last().seq);
}

describe('router replication against real shard nodes', () => {
  it('rolls back a diverged replica: probe finds the match point, truncate drops the never-committed suffix', async () => {
    const cfg = await startNodes();
    let s = await startRouter(cfg);
    await put(s, '/v1/db/d');
    for (let i = 0; i < 5; i++) await put(s, `/v1/db/d/docs/x${i}`, { data: { i } });
    await waitFor(() => nodes.every((n) => n.store.state().lastSeq === node('a').store.state().lastSeq), { timeoutMs: 3000 });
    await s.stop();
    shards = null;

    // An operator's unstamped writes reach only a (no router relays them): never committed.
    for (let i = 0; i < 3; i++) {
      const res = await node('a').app!.inject({ method: 'PUT', url: `/v1/db/d/docs/orphan${i}`, headers: { authorization: `Bearer ${SECRET}` }, payload: { data: { lost: true } } });
      expect(res.statusCode).toBe(201);
    }
    const aBefore = node('a').store.state();
    // b wins term 2 with c's vote; it appends its noop. a's three entries now diverge.
    const bState = node('b').store.state();
    for (const voter of ['b', 'c']) {
      expect(node(voter).store.vote({ term: 2, candidateId: 'b', lastTerm: bState.lastTerm, lastSeq: bState.lastSeq }).granted).toBe(true);
    }
    node('b').store.promote({ term: 2 });

    s = await startRouter(cfg);
    expect([s.list[0]!.view.term, s.list[0]!.view.primaryId]).toEqual([2, 'b']);
    const w = await put(s, '/v1/db/d/docs/after', { data: { term: 2 } });
    expect(w.status).toBe(201);
    await waitFor(() => nodes.every((n) => n.store.state().lastSeq === node('b').store.state().lastSeq), { timeoutMs: 5000, message: 'every node at b\'s lastSeq' });
    const a = node('a').store.state();
    expect(a.role).toBe('replica');
    expect(a.term).toBe(2);
    expect(a.rollbackCount).toBe(3);
    expect(a.lastSeq).toBeLessThan(aBefore.lastSeq + 2);
    expect(docsOf('a')).toBe(docsOf('b'));
    expect(docsOf('c')).toBe(docsOf('b'));
    expect(docsOf('a')).not.toContain('orphan');
  });

  it('installs a snapshot on a replica that missed more than the primary kept, then relays as usual', async () => {
    const cfg = await startNodes(100);
    const s = await startRouter(cfg);
    await put(s, '/v1/db/d');
    for (let i = 0; i < 5; i++) await put(s, `/v1/db/d/docs/early${i}`, { data: { i } });
    const c = node('c');
    await waitFor(() => c.store.state().lastSeq === node('a').store.state().lastSeq, { timeoutMs: 3000 });
    await c.app!.close();
    c.app = null;

    // Enough writes that a trims its WAL past c's position (c is unreachable, so it does not hold the trim back).
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 30 }, (_, i) => put(s, `/v1/db/d/docs/late${batch}-${i}`, { data: { batch, i } })));
    }
    const a = node('a').store.state();
    expect(a.oldestSeq).toBeGreaterThan(c.store.state().lastSeq + 1);

    await listen(c, cfg);
    s.list[0]!.streams.get('c')!.wake(true);
    await waitFor(() => c.store.state().lastSeq >= node('a').store.state().lastSeq, { timeoutMs: 10_000, message: 'c caught up through a snapshot' });
    expect(docsOf('c')).toBe(docsOf('a'));
    // And plain relaying resumes on top of the snapshot.
    await put(s, '/v1/db/d/docs/final', { data: {} });
    await waitFor(() => c.store.state().lastSeq === node('a').store.state().lastSeq, { timeoutMs: 3000 });
    expect(docsOf('c')).toBe(docsOf('a'));
  });
});
