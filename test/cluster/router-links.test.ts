import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Doc } from '../../src/core/protocol.ts';
import { startCluster, waitFor, writeTestConfig, type TestCluster } from '../harness/index.ts';
import { INSPECT_HEADERS } from '../harness/inspect.ts';

// Dropped links between the router and nodes (TCP proxies): reset links fail
// fast, black-holed ones time out. One shard of three; the router does not
// elect here, so the primary stays s0a throughout.

const WRITE_TIMEOUT_MS = 1500;
let cluster: TestCluster;
let url: string;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(WRITE_TIMEOUT_MS + 5000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, ms: Date.now() - started };
}

async function converged(): Promise<void> {
  await waitFor(async () => {
    const s = await Promise.all(['s0a', 's0b', 's0c'].map((n) => cluster.nodeState(n)));
    return s.every((x) => x.lastSeq === s[0]!.lastSeq);
  }, { timeoutMs: 10_000, message: 'all three nodes at the same lastSeq' });
}

async function docOn(nodeId: string, id: string): Promise<Doc | null> {
  const res = await cluster.client(nodeId).raw({ path: `/v1/db/l/docs/${id}`, timeoutMs: 2000, headers: { ...INSPECT_HEADERS } });
  return res.status === 200 ? (res.body as Doc) : null;
}

beforeAll(async () => {
  const tc = await writeTestConfig({ shards: 1, nodesPerShard: 3, proxied: ['s0a', 's0b', 's0c'], overrides: { replication: { writeTimeoutMs: WRITE_TIMEOUT_MS } } });
  cluster = await startCluster(tc);
  url = cluster.router.url;
  expect((await call('PUT', '/v1/db/l')).status).toBe(201);
});

afterAll(async () => {
  await cluster?.dispose();
});

describe('router with dropped links', () => {
  it('writes through a reset link to one replica, which catches up once healed', async () => {
    cluster.proxies.s0b!.cut('reset');
    try {
      for (let i = 0; i < 5; i++) {
        const r = await call('PUT', `/v1/db/l/docs/r${i}`, { data: { i } });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
      }
      expect(await docOn('s0b', 'r4')).toBeNull();
    } finally {
      cluster.proxies.s0b!.heal();
    }
    await converged();
    expect((await docOn('s0b', 'r4'))?.data).toEqual({ i: 4 });
  });

  it('answers quorum_not_met when both replica links black-hole, and the write lands after healing', async () => {
    cluster.proxies.s0b!.cut('blackhole');
    cluster.proxies.s0c!.cut('blackhole');
    let r;
    try {
      r = await call('PUT', '/v1/db/l/docs/hole', { data: { v: 1 } });
    } finally {
      cluster.proxies.s0b!.heal();
      cluster.proxies.s0c!.heal();
    }
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error: 'quorum_not_met', outcome: 'indeterminate', acks: 1, required: 2 });
    await converged();
    for (const n of ['s0a', 's0b', 's0c']) expect((await docOn(n, 'hole'))?.data).toEqual({ v: 1 });
  });

  it('answers quorum_not_met (indeterminate) when the primary link resets: a reset after connecting cannot prove the request unread; writes again after healing', async () => {
    cluster.proxies.s0a!.cut('reset');
    let r;
    try {
      r = await call('PUT', '/v1/db/l/docs/nope', { data: {} });
    } finally {
      cluster.proxies.s0a!.heal();
    }
    expect(r.status).toBe(503);
    // The proxy accepted the connection and then reset it: to the router that is a request that may
    // have been read (a primary dying after its commit looks the same). not_applied is only for a
    // connection refused or never made (failover-kill.test.ts: a killed primary's refused writes).
    expect(r.body).toMatchObject({ error: 'quorum_not_met', outcome: 'indeterminate' });
    expect(await docOn('s0a', 'nope')).toBeNull();
    const again = await call('PUT', '/v1/db/l/docs/back', { data: {} });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
  });

  it('answers quorum_not_met (indeterminate) when the primary link black-holes mid-request', async () => {
    cluster.proxies.s0a!.cut('blackhole');
    let r;
    try {
      r = await call('PUT', '/v1/db/l/docs/maybe', { data: {} });
    } finally {
      cluster.proxies.s0a!.heal();
    }
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error: 'quorum_not_met', outcome: 'indeterminate' });
    // The router is usable again at once.
    const ok = await call('PUT', '/v1/db/l/docs/after-hole', { data: {} });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  });

  it('no process crashed along the way', () => {
    expect(cluster.unexpectedExits()).toEqual([]);
  });
});
