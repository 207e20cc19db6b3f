import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killByPidFile, ManagedProcess, startCluster, writeTestConfig, type TestCluster, type TestConfig } from '../harness/index.ts';

// scripts/failover-test.ts against a real local cluster: it kills the
// primary of shard 0 through its pid file, waits for the election, restarts
// the node detached and checks every acknowledged write. Passes only once
// automatic failover is wired into the router.

const SCRIPT = fileURLToPath(new URL('../../scripts/failover-test.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/cli.mjs', import.meta.url));

let tc: TestConfig | undefined;
let cluster: TestCluster | undefined;
afterEach(async () => {
  // The script restarts the killed node detached (it outlives the script):
  // kill every node through its pid file as well as through the harness.
  for (const id of tc?.nodeIds ?? []) killByPidFile(join(tc!.dataDir, id, 'tessera.pid'), [id, tc!.path]);
  await cluster?.dispose();
  await tc?.cleanup(); // a test without a cluster still made a temp folder
  cluster = undefined;
  tc = undefined;
});

describe('scripts/failover-test.ts', () => {
  it('survives the loss of shard 0\'s primary with no acknowledged write lost', async () => {
    tc = await writeTestConfig({ shards: 2, nodesPerShard: 3 });
    cluster = await startCluster(tc);
    const script = new ManagedProcess({
      name: 'failover-test',
      entry: TSX,
      args: [SCRIPT, '--config', tc.path, '--shard', '0', '--docs', '50', '--keep-writing-ms', '1500', '--timeout-ms', '30000'],
      readyPattern: null,
      logLines: 500,
    });
    await script.start();
    const exit = await script.exited;
    const out = script.tail(500);
    expect(out, out).toMatch(/OK: no acknowledged write lost/);
    expect(exit, out).toEqual({ code: 0, signal: null });
    // The script really killed the original primary (the harness saw it die).
    expect(cluster.nodes.s0a!.running).toBe(false);
    expect(out).toMatch(/shard 0: primary s0a at term 1; killing it/);
    expect(out).toMatch(/s0a rejoined as an InSync replica/);
    expect(out).toMatch(/read back \d+ acknowledged writes from s0a directly: 0 missing or wrong/);
    // Every step is printed with the time since the start, in order.
    const times = out.split('\n').filter((l) => l.trim() !== '').map((l) => {
      const m = /^\[\s*(\d+\.\d\d)s\] \S/.exec(l);
      expect(m, `untimed line: ${l}`).not.toBeNull();
      return Number(m![1]);
    });
    expect(times.length).toBeGreaterThanOrEqual(10);
    expect(times).toEqual(times.slice().sort((a, b) => a - b));
    expect(out).toMatch(/new primary s0[bc] at term [2-9]\d*, \d+ ms after the kill/);
    expect(out).toMatch(/writes unavailable for \d+ ms/);
  });

  it('exits 1 with a FAILED line when a step cannot complete, and 2 on a usage error', async () => {
    tc = await writeTestConfig({ shards: 1, nodesPerShard: 3 });
    // No cluster is running: the first step (the router's /readyz) times out.
    const run = (args: string[]) => new ManagedProcess({ name: 'failover-test', entry: TSX, args: [SCRIPT, ...args], readyPattern: null, logLines: 100 });
    const noCluster = run(['--config', tc.path, '--timeout-ms', '1000']);
    const usage = run(['--shard', '0']);
    await Promise.all([noCluster.start(), usage.start()]);
    const [noClusterExit, usageExit] = await Promise.all([noCluster.exited, usage.exited]);
    expect(noClusterExit, noCluster.tail()).toEqual({ code: 1, signal: null });
    expect(noCluster.tail()).toMatch(/^\[\s*\d+\.\d\ds\] FAILED: .*readyz/m);
    expect(noCluster.tail()).not.toMatch(/OK: no acknowledged write lost/);
    expect(usageExit, usage.tail()).toEqual({ code: 2, signal: null });
    expect(usage.tail()).toMatch(/usage: npm run failover-test/);
  });
});
