import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Doc, LogEntry } from '../../src/core/protocol.ts';
import { startCluster, waitFor, writeTestConfig, type TestCluster } from '../harness/index.ts';
import { rng, TEST_SEED } from '../harness/rng.ts';

// Replica faults under load (no failover: the primary stays up): concurrent
// writers while a seeded schedule pauses, resumes, kills and restarts
// replicas. Afterwards every acknowledged write is on every node, and the
// nodes hold identical logs and documents.

const WRITE_TIMEOUT_MS = 1500;
const SEED = TEST_SEED;
let cluster: TestCluster;


beforeAll(async () => {
  const tc = await writeTestConfig({ shards: 1, nodesPerShard: 3, overrides: { replication: { writeTimeoutMs: WRITE_TIMEOUT_MS } } });
  cluster = await startCluster(tc);
  const res = await fetch(`${cluster.router.url}/v1/db/c`, { method: 'PUT' });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  await cluster?.dispose();
});

describe(`router under replica faults (seed ${SEED})`, () => {
  it('loses no acknowledged write and converges to identical logs and documents', async () => {
    const random = rng(SEED);
    const replicas = cluster.shardNodes(0).slice(1);
    const acked = new Map<string, string>(); // id -> rev
    const outcomes = { ok: 0, indeterminate: 0, other: 0 };
    const stopAt = Date.now() + 6000;
    let n = 0;

    const writer = async (w: number) => {
      while (Date.now() < stopAt && n < 5000) {
        const id = `w${w}-${n++}`;
        const res = await fetch(`${cluster.router.url}/v1/db/c/docs/${id}`, {
          method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: { w } }),
          signal: AbortSignal.timeout(WRITE_TIMEOUT_MS + 5000),
        });
        const body = await res.json() as { rev?: string; error?: string };
        if (res.status === 201) {
          acked.set(id, body.rev!);
          outcomes.ok++;
        } else if (res.status === 503 && body.error === 'quorum_not_met') outcomes.indeterminate++;
        else outcomes.other++;
      }
    };

    const chaos = async () => {
      const log: string[] = [];
      while (Date.now() < stopAt - 500) {
        const victim = replicas[Math.floor(random.next() * replicas.length)]!;
        const p = cluster.nodes[victim]!;
        const roll = random.next();
        if (p.paused) { p.resume(); log.push(`resume ${victim}`); }
        else if (roll < 0.6) { p.pause(); log.push(`pause ${victim}`); }
        else if (roll < 0.8) { await p.kill('SIGKILL'); await p.restart(); log.push(`restart ${victim}`); }
        // Act again once the writers have made some progress (a condition, not a sleep).
        const target = n + 4 + Math.floor(random.next() * 12);
        await waitFor(() => n >= target || Date.now() >= stopAt - 500, { timeoutMs: 10_000, intervalMs: 20 });
      }
      for (const id of replicas) if (cluster.nodes[id]!.paused) cluster.nodes[id]!.resume();
      return log;
    };

    const [, schedule] = await Promise.all([Promise.all(Array.from({ length: 12 }, (_, w) => writer(w))), chaos()]);
    expect(outcomes.other, `unexpected answers; schedule: ${schedule.join(', ')}`).toBe(0);
    expect(outcomes.ok).toBeGreaterThan(0);
    if (process.env.TESSERA_TEST_VERBOSE) console.log(SEED, outcomes, schedule.join(', '));

    const ids = cluster.shardNodes(0);
    await waitFor(async () => {
      const s = await Promise.all(ids.map((id) => cluster.nodeState(id)));
      return s.every((x) => x.lastSeq === s[0]!.lastSeq);
    }, { timeoutMs: 15_000, message: `nodes converge (seed ${SEED}, schedule: ${schedule.join(', ')})` });

    const docsOf = async (id: string) => {
      const res = await cluster.client(id).json<{ items: Doc[] }>({ path: '/v1/db/c/_all_docs?includeDeleted=true&limit=1000', timeoutMs: 5000 });
      const all: Doc[] = [...res.body.items];
      let next = (res.body as { next?: string | null }).next;
      for (let page = 0; next && page < 100; page++) {
        const more = await cluster.client(id).json<{ items: Doc[]; next: string | null }>({ path: `/v1/db/c/_all_docs?includeDeleted=true&limit=1000&startAfter=${next}`, timeoutMs: 5000 });
        all.push(...more.body.items);
        next = more.body.next;
      }
      return all;
    };
    const walOf = async (id: string) => {
      const res = await cluster.client(id).json<{ entries: LogEntry[] }>({ path: '/v1/_replication/wal?since=0&limit=10000&meta=1', timeoutMs: 5000 });
      return res.body.entries.map((e) => `${e.seq}:${e.term}:${e.op}:${e.id}:${e.rev}`);
    };
    const [docsA, docsB, docsC] = await Promise.all(ids.map(docsOf)) as [Doc[], Doc[], Doc[]];
    expect(docsB).toEqual(docsA);
    expect(docsC).toEqual(docsA);
    const [walA, walB, walC] = await Promise.all(ids.map(walOf));
    expect(walB).toEqual(walA);
    expect(walC).toEqual(walA);

    const byId = new Map(docsA.map((d) => [d.id, d.rev]));
    for (const [id, rev] of acked) expect(byId.get(id), `acknowledged ${id} (seed ${SEED})`).toBe(rev);
    expect(cluster.unexpectedExits()).toEqual([]);
  });
});
