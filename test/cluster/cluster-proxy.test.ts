import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, waitFor, writeTestConfig, type TestCluster } from '../harness/index.ts';

// The harness's way of cutting the link between the router and one node,
// against real processes: the router reaches s0b only through a TcpProxy
// (its own config file points there), the node itself keeps running.

let cluster: TestCluster;
beforeAll(async () => {
  const tc = await writeTestConfig({ shards: 1, nodesPerShard: 3, proxied: ['s0b'] });
  cluster = await startCluster(tc);
});
afterAll(async () => {
  await cluster?.dispose();
});

async function put(path: string, body?: unknown): Promise<number> {
  const res = await fetch(`${cluster.router.url}${path}`, {
    method: 'PUT',
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(5000),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('a cut link between the router and a node', () => {
  it('the router goes through the proxy, writes continue on the other two nodes, and the node catches up after heal', async () => {
    expect(await put('/v1/db/cut')).toBe(201);
    expect(cluster.proxies.s0b!.connections).toBeGreaterThan(0);
    await waitFor(async () => (await cluster.nodeState('s0b')).lastSeq >= 1, { timeoutMs: 10_000, message: 's0b to get the db entry' });

    cluster.proxies.s0b!.cut();
    for (let i = 0; i < 20; i++) expect(await put(`/v1/db/cut/docs/d${i}`, { data: { i } })).toBe(201);
    const primary = await cluster.nodeState('s0a');
    // s0b itself is up and reachable directly, but got nothing through the cut link.
    const cutOff = await cluster.nodeState('s0b');
    expect(cutOff.lastSeq).toBeLessThan(primary.lastSeq);
    await waitFor(async () => {
      const node = (await cluster.clusterInfo()).shards[0]!.nodes.find((n) => n.id === 's0b');
      return node?.health !== 'InSync';
    }, { timeoutMs: 10_000, message: 'the router to stop reporting s0b InSync' });

    cluster.proxies.s0b!.heal();
    await waitFor(async () => (await cluster.nodeState('s0b')).lastSeq === primary.lastSeq, { timeoutMs: 15_000, message: 's0b to catch up after heal' });
    await waitFor(async () => (await cluster.clusterInfo()).shards[0]!.nodes.every((n) => n.health === 'InSync'), { timeoutMs: 10_000, message: 'all InSync' });
  });

  it('a blackholed link (no answers, no resets): writes reach their quorum on the other two; the node catches up after heal', async () => {
    cluster.proxies.s0b!.cut('blackhole');
    // Each write needs only s0a and s0c: none waits for the hung link (that would be a 503 at writeTimeoutMs).
    for (let i = 0; i < 10; i++) {
      expect(await put(`/v1/db/cut/docs/b${i}`, { data: { i } })).toBe(201);
    }
    const primary = await cluster.nodeState('s0a');
    expect((await cluster.nodeState('s0b')).lastSeq).toBeLessThan(primary.lastSeq);
    cluster.proxies.s0b!.heal();
    await waitFor(async () => (await cluster.nodeState('s0b')).lastSeq === primary.lastSeq, { timeoutMs: 20_000, message: 's0b to catch up after the blackhole heals' });
    expect(cluster.unexpectedExits()).toEqual([]);
  });
});
