import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchCluster } from '../../src/launch/cluster.ts';
import { waitFor, writeTestConfig } from '../harness/index.ts';
import { writeFakeTessera } from '../harness/fake-tessera.ts';

// launchCluster with a stand-in for bin/tessera.mjs whose router turns ready
// only after a few /readyz polls (like a router building its shard view).

let dir: string;
let fake: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-launcher-'));
  fake = await writeFakeTessera(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('launchCluster', () => {
  it('starts nodes and router, waits for /readyz, logs to files, and stops everything', async () => {
    const tc = await writeTestConfig({ shards: 2, nodesPerShard: 2 });
    const seen: string[] = [];
    const exits: string[] = [];
    try {
      const logDir = join(tc.dir, 'logs');
      const c = await launchCluster({
        configPath: tc.path, config: tc.config, logDir, entry: fake, env: {},
        onLine: (name, line) => seen.push(`${name} ${line}`),
        onExit: (name) => exits.push(name),
      });
      expect(c.routerUrl).toBe(tc.routerUrl);
      expect(Object.keys(c.nodes).sort()).toEqual(['s0a', 's0b', 's1a', 's1b']);
      expect((await fetch(`${c.routerUrl}/readyz`)).status).toBe(200);
      expect(seen.some((l) => l.startsWith('s1b ') && l.includes('listening'))).toBe(true);

      await c.nodes.s0b!.kill();
      expect(exits).toEqual(['s0b']);

      const pids = [c.router, ...Object.values(c.nodes)].map((p) => p.pid!);
      await c.stop(2000);
      for (const pid of pids) expect(alive(pid)).toBe(false);
      expect(exits).toEqual(['s0b']);
      const routerLog = readFileSync(join(logDir, 'router.log'), 'utf8');
      expect(routerLog).toContain('"msg":"debug detail"');
      expect(routerLog).toContain('"msg":"stopped"');
    } finally {
      await tc.cleanup();
    }
  });

  it('fails with the child output and stops the others when a node cannot start', async () => {
    const tc = await writeTestConfig({ shards: 1, nodesPerShard: 3 });
    try {
      const err = await launchCluster({ configPath: tc.path, config: tc.config, logDir: join(tc.dir, 'logs'), entry: fake, env: { FAKE_FAIL: 's0b' } })
        .then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(/s0b exited before it was ready/);
      expect(err?.message).toContain('cannot start s0b');
      for (const id of ['s0a', 's0c']) await expect(fetch(tc.nodeUrls[id]!)).rejects.toThrow();
    } finally {
      await tc.cleanup();
    }
  });

  it('gives up when the router never turns ready, within the deadline', async () => {
    const tc = await writeTestConfig({ shards: 1, nodesPerShard: 1, overrides: { replication: { writeQuorum: 1 } } });
    try {
      const t0 = Date.now();
      const err = await launchCluster({ configPath: tc.path, config: tc.config, logDir: join(tc.dir, 'logs'), entry: fake, env: { FAKE_NEVER_READY: '1' }, readyTimeoutMs: 1500 })
        .then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(/readyz to answer 200/);
      expect(Date.now() - t0).toBeLessThan(10_000);
      await expect(fetch(tc.routerUrl)).rejects.toThrow();
    } finally {
      await tc.cleanup();
    }
  });

  it('an abort during start-up stops every child promptly', async () => {
    const tc = await writeTestConfig({ shards: 1, nodesPerShard: 1, overrides: { replication: { writeQuorum: 1 } } });
    try {
      const ac = new AbortController();
      const launched = launchCluster({
        configPath: tc.path, config: tc.config, logDir: join(tc.dir, 'logs'), entry: fake, env: { FAKE_NEVER_READY: '1' }, readyTimeoutMs: 30_000, signal: ac.signal,
        onLine: (name, line) => {
          if (name === 'router' && line.includes('listening')) ac.abort();
        },
      });
      const t0 = Date.now();
      await expect(launched).rejects.toThrow(/start-up aborted/);
      expect(Date.now() - t0).toBeLessThan(10_000);
      await expect(fetch(tc.routerUrl)).rejects.toThrow();
      await expect(fetch(tc.nodeUrls.s0a!)).rejects.toThrow();
    } finally {
      await tc.cleanup();
    }
  });

  it('stop() also ends a node of its config restarted outside it from its data dir (the failover script\'s case), and nothing else', async () => {
    const tc = await writeTestConfig({ shards: 1, nodesPerShard: 3 });
    const strays: string[] = [];
    const others: number[] = [];
    try {
      const c = await launchCluster({
        configPath: tc.path, config: tc.config, entry: fake, env: {}, onStray: (id, pid, how) => strays.push(`${id} ${pid} ${how}`),
      });
      // What `npm run failover-test` does: SIGKILL the node, restart it detached (it outlives its parent).
      await c.nodes.s0a!.kill();
      const detached = spawn(process.execPath, [fake, 'shard', '--config', tc.path, '--node', 's0a'], { detached: true, stdio: 'ignore' });
      detached.unref();
      const pidFile = join(tc.dataDir, 's0a', 'tessera.pid');
      await waitFor(() => existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8')) === detached.pid, { timeoutMs: 10_000, message: 'the detached s0a to write its pid file' });
      expect(alive(detached.pid!)).toBe(true);
      // A stale pid file naming an unrelated live process must not get it signalled.
      const unrelated = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
      others.push(unrelated.pid!);
      writeFileSync(join(tc.dataDir, 's0b', 'tessera.pid'), String(unrelated.pid));

      await c.stop(2000);
      await waitFor(() => !alive(detached.pid!), { timeoutMs: 5_000, message: 'the detached s0a to be gone' });
      expect(strays).toEqual([`s0a ${detached.pid} terminated`]);
      // It stopped cleanly (SIGTERM first): a real node removes its pid file then.
      expect(existsSync(pidFile)).toBe(false);
      expect(alive(unrelated.pid!)).toBe(true);
    } finally {
      for (const pid of others) if (alive(pid)) process.kill(pid, 'SIGKILL');
      await tc.cleanup();
    }
  });
});
