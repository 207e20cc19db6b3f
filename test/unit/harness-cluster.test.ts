import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, waitFor, writeTestConfig, type TestCluster } from '../harness/index.ts';
import { writeFakeTessera } from '../harness/fake-tessera.ts';

// startCluster with a stand-in for bin/tessera.mjs: each process serves HTTP
// on its config URL and names itself, like `tessera shard|router` would.

let dir: string;
let fake: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-harness-cluster-'));
  fake = await writeFakeTessera(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function get(url: string): Promise<{ who: string; nodes: Array<{ id: string; url: string }> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return (await res.json()) as { who: string; nodes: Array<{ id: string; url: string }> };
}

describe('startCluster', () => {
  it('starts every node and the router, proxies the chosen links, and disposes of everything', async () => {
    const tc = await writeTestConfig({ shards: 2, nodesPerShard: 3, proxied: ['s0a'] });
    let cluster: TestCluster | undefined;
    try {
      cluster = await startCluster(tc, { entry: fake });
      expect(Object.keys(cluster.nodes)).toEqual(tc.nodeIds);
      for (const id of tc.nodeIds) expect((await get(tc.nodeUrls[id]!)).who).toBe(id);

      const routerView = await get(`${cluster.router.url}/readyz`);
      expect(routerView.who).toBe('router');
      const viaProxy = routerView.nodes.find((n) => n.id === 's0a')!.url;
      expect(viaProxy).not.toBe(tc.nodeUrls.s0a);
      expect((await get(viaProxy)).who).toBe('s0a');

      cluster.proxies.s0a!.cut();
      await expect(get(viaProxy)).rejects.toThrow();
      expect((await get(tc.nodeUrls.s0a!)).who).toBe('s0a');
      cluster.proxies.s0a!.heal();
      await waitFor(async () => (await get(viaProxy)).who === 's0a', { timeoutMs: 3000 });

      await cluster.nodes.s1b!.kill();
      await expect(get(tc.nodeUrls.s1b!)).rejects.toThrow();
      await cluster.nodes.s1b!.restart();
      expect((await get(tc.nodeUrls.s1b!)).who).toBe('s1b');
      expect(cluster.shardNodes(1)).toEqual(['s1a', 's1b', 's1c']);

      expect(cluster.unexpectedExits()).toEqual([]);
      process.kill(cluster.nodes.s0c!.pid!, 'SIGKILL');
      await cluster.nodes.s0c!.exited;
      expect(cluster.unexpectedExits().map((e) => `${e.name} ${e.signal}`)).toEqual(['s0c SIGKILL']);

      const pids = [cluster.router, ...Object.values(cluster.nodes)].filter((p) => p.running).map((p) => p.pid!);
      await cluster.dispose();
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
      expect(existsSync(tc.dir)).toBe(false);
      await cluster.dispose();
    } finally {
      await cluster?.dispose();
      await tc.cleanup();
    }
  });

  it('kills what it started and reports the output when a node fails to start', async () => {
    const tc = await writeTestConfig({ shards: 1, nodesPerShard: 3 });
    try {
      const err = await startCluster(tc, { entry: fake, env: { FAKE_FAIL: 's0c' } }).then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(/s0c exited before it was ready \(code 2\)/);
      expect(err?.message).toContain('cannot start s0c');
      // The other nodes were killed: their ports accept no connection.
      for (const id of ['s0a', 's0b']) await expect(get(tc.nodeUrls[id]!)).rejects.toThrow();
    } finally {
      await tc.cleanup();
    }
  });
});
