import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/core/config/index.ts';
import { buildConfig, nodeIdFor } from '../../src/core/config/template.ts';
import { freePorts, TEST_REPLICATION, waitFor, writeTestConfig, type TestConfig } from '../harness/index.ts';

describe('freePorts', () => {
  it('returns distinct bindable ports', async () => {
    const ports = await freePorts(12);
    expect(new Set(ports).size).toBe(12);
    for (const p of ports) expect(p).toBeGreaterThan(0);
  });
});

describe('buildConfig', () => {
  it('lays nodes out shard-major with s<shard><letter> ids', () => {
    const raw = buildConfig({ secret: 's', routerPort: 1, nodePorts: [11, 12, 21, 22], shards: 2, nodesPerShard: 2, dataDir: '/d' });
    expect(raw.shards.map((s) => s.nodes.map((n) => `${n.id}@${n.url}`))).toEqual([
      ['s0a@http://127.0.0.1:11', 's0b@http://127.0.0.1:12'],
      ['s1a@http://127.0.0.1:21', 's1b@http://127.0.0.1:22'],
    ]);
    expect(raw.router.url).toBe('http://127.0.0.1:1');
  });
  it('refuses too few ports and out-of-range node letters', () => {
    expect(() => buildConfig({ secret: 's', routerPort: 1, nodePorts: [2], shards: 1, nodesPerShard: 3, dataDir: '/d' })).toThrow(RangeError);
    expect(() => nodeIdFor(0, 26)).toThrow(RangeError);
    expect(nodeIdFor(2, 25)).toBe('s2z');
  });
});

describe('writeTestConfig', () => {
  let tc: TestConfig | undefined;
  afterEach(async () => {
    await tc?.cleanup();
    tc = undefined;
  });

  it('writes a valid config on distinct free ports with a temp data dir', async () => {
    tc = await writeTestConfig({ shards: 3, nodesPerShard: 3, overrides: { replication: { writeTimeoutMs: 900 } } });
    const cfg = loadConfig(tc.path, {});
    expect(cfg.shards).toHaveLength(3);
    expect(tc.nodeIds).toEqual(['s0a', 's0b', 's0c', 's1a', 's1b', 's1c', 's2a', 's2b', 's2c']);
    const hosts = [cfg.router.url, ...tc.nodeIds.map((id) => tc!.nodeUrls[id]!)].map((u) => new URL(u).host);
    expect(new Set(hosts).size).toBe(10);
    expect(cfg.dataDir.startsWith(tc.dir)).toBe(true);
    expect(cfg.replication.writeTimeoutMs).toBe(900);
    expect(cfg.replication.failoverTimeoutMs).toBe(TEST_REPLICATION.failoverTimeoutMs);
    expect(tc.routerPath).toBe(tc.path);
    await tc.cleanup();
    expect(existsSync(tc.dir)).toBe(false);
  });

  it('gives the router its own config whose proxied nodes point at the proxy ports', async () => {
    tc = await writeTestConfig({ shards: 1, nodesPerShard: 3, proxied: ['s0b'] });
    expect(tc.routerPath).not.toBe(tc.path);
    const nodeCfg = loadConfig(tc.path, {});
    const routerCfg = loadConfig(tc.routerPath, {});
    const urlOf = (c: typeof nodeCfg, id: string) => c.shards[0]!.nodes.find((n) => n.id === id)!.url;
    const proxy = tc.proxies.s0b!;
    expect(Number(new URL(urlOf(nodeCfg, 's0b')).port)).toBe(proxy.targetPort);
    expect(Number(new URL(urlOf(routerCfg, 's0b')).port)).toBe(proxy.listenPort);
    expect(urlOf(routerCfg, 's0a')).toBe(urlOf(nodeCfg, 's0a'));
    expect(JSON.parse(readFileSync(tc.routerPath, 'utf8')).cluster.secret).toBe(nodeCfg.cluster.secret);
  });

  it('refuses to proxy an unknown node, and an invalid config, without leaking its temp folder', async () => {
    // A private TMPDIR (os.tmpdir() reads it on every call), so other test files cannot interfere.
    const privateTmp = mkdtempSync(join(tmpdir(), 'tessera-harness-tmp-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = privateTmp;
    try {
      await expect(writeTestConfig({ proxied: ['nope'] })).rejects.toThrow(/nope/);
      await expect(writeTestConfig({ overrides: { replication: { writeQuorum: 1 } } })).rejects.toThrow(/writeQuorum/);
      expect(readdirSync(privateTmp)).toEqual([]);
      const ok = await writeTestConfig();
      expect(readdirSync(privateTmp)).toHaveLength(1);
      await ok.cleanup();
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(privateTmp, { recursive: true, force: true });
    }
  });
});

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let n = 0;
    const v = await waitFor(() => (++n >= 3 ? { n } : null), { intervalMs: 5, timeoutMs: 1000 });
    expect(v).toEqual({ n: 3 });
  });
  it('treats a throwing check as not yet and reports the last error on timeout', async () => {
    await expect(waitFor(() => { throw new Error('still down'); }, { timeoutMs: 60, intervalMs: 10, message: 'the node' }))
      .rejects.toThrow(/timed out after 60 ms waiting for the node \(last error: still down\)/);
  });
  it('stops early when its signal is aborted', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 20);
    await expect(waitFor(() => false, { timeoutMs: 5000, intervalMs: 5, message: 'never', signal: ac.signal })).rejects.toThrow(/stopped waiting for never: aborted/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
  it('ends at its deadline even when a check never settles (a request to a paused process)', async () => {
    await expect(waitFor(() => new Promise<boolean>(() => {}), { timeoutMs: 80, message: 'a hung check' }))
      .rejects.toThrow(/timed out after 80 ms waiting for a hung check \(last value: undefined; the last check was still running at the deadline\)/);
  });
  it('reports the last value on timeout', async () => {
    await expect(waitFor(() => 0, { timeoutMs: 30, intervalMs: 10 })).rejects.toThrow(/last value: 0/);
  });
});
