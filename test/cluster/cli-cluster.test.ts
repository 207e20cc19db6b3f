import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { killByPidFile, ManagedProcess, TESSERA_BIN, writeTestConfig, type TestConfig } from '../harness/index.ts';

// `tessera cluster`, `status` and `bench` as a user runs them, against real
// node and router processes.

let tc: TestConfig | undefined;
let cluster: ManagedProcess | undefined;
afterEach(async () => {
  await cluster?.kill('SIGKILL');
  // Children of a SIGKILLed launcher would be orphans: kill them by their pid files.
  for (const id of tc?.nodeIds ?? []) killByPidFile(join(tc!.dataDir, id, 'tessera.pid'), [id, tc!.path]);
  await tc?.cleanup();
  cluster = undefined;
  tc = undefined;
});

function launcher(t: TestConfig): ManagedProcess {
  const env: NodeJS.ProcessEnv = { NO_COLOR: '1' };
  for (const k of Object.keys(process.env)) if (k.startsWith('TESSERA_')) env[k] = undefined;
  return new ManagedProcess({ name: 'cluster', args: ['cluster', '--config', t.path], env, readyPattern: /^router: http:\/\//, timeoutMs: 60_000 });
}

function tessera(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TESSERA_BIN, ...args], { env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('tessera cluster', () => {
  it('starts every node and the router, prints `router: <url>`, serves status and bench, and stops everything on SIGTERM', async () => {
    tc = await writeTestConfig({ shards: 2, nodesPerShard: 3 });
    cluster = await launcher(tc).start();
    const line = cluster.log.toArray().find((l) => l.startsWith('router: '));
    expect(line).toBe(`router: ${tc.routerUrl}`);

    const status = await tessera(['status', '--config', tc.path]);
    expect(status.code).toBe(0);
    const [nodeTable, shardTable] = status.stdout.trim().split('\n\n');
    const rows = nodeTable!.split('\n').slice(1).map((r) => r.trim().split(/\s+/));
    expect(rows.map((r) => r[1]).sort()).toEqual(tc.nodeIds.slice().sort());
    for (const shard of [0, 1]) expect(rows.filter((r) => r[0] === String(shard) && r[2] === 'primary')).toHaveLength(1);
    // The shard table names each shard's primary and, after start-up, the election that adopted it.
    const shardRows = shardTable!.split('\n').slice(1).map((r) => r.trim().split(/\s+/));
    expect(shardRows.map((r) => r[0])).toEqual(['0', '1']);
    for (const r of shardRows) expect(r[2]).toBe(rows.find((n) => n[0] === r[0] && n[2] === 'primary')![1]);

    const bench = await tessera(['bench', '--router', tc.routerUrl, '--clients', '8', '--duration', '2', '--json']);
    expect(bench.code).toBe(0);
    const result = JSON.parse(bench.stdout) as { ops: number; errors: number };
    expect(result.ops).toBeGreaterThan(0);
    expect(result.errors).toBe(0);
    expect(bench.stderr).toMatch(/\[\s+1s\] write/);

    const pidFiles = tc.nodeIds.map((id) => join(tc!.dataDir, id, 'tessera.pid'));
    const pids = pidFiles.map((f) => Number(readFileSync(f, 'utf8').trim()));
    const exit = await cluster.stop(15_000);
    expect(exit).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    // Nodes shut down cleanly: they remove their pid files.
    for (const f of pidFiles) expect(existsSync(f)).toBe(false);
    expect(existsSync(join(tc.dataDir, 'logs', 'router.log'))).toBe(true);
    // The terminal shows lifecycle lines only.
    expect(cluster.log.toArray().some((l) => l.startsWith('! [s0a] listening'))).toBe(true);
  });

  it('exits 1 with the failing node\'s output and stops the others when a node cannot start', async () => {
    tc = await writeTestConfig({ shards: 1, nodesPerShard: 3 });
    // Occupy s0c's port so it cannot listen.
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(Number(new URL(tc!.nodeUrls.s0c!).port), '127.0.0.1', () => r()));
    try {
      const proc = launcher(tc);
      cluster = proc;
      await expect(proc.start()).rejects.toThrow(/exited before it was ready \(code 1\)/);
      const out = proc.tail(200);
      expect(out).toMatch(/start-up failed: s0c exited before it was ready/);
      // The others were stopped. (A node stopped before it finished starting may leave its pid
      // file behind, so check that no process of theirs is alive rather than the files.)
      for (const id of ['s0a', 's0b']) {
        const file = join(tc.dataDir, id, 'tessera.pid');
        if (existsSync(file)) expect(() => process.kill(Number(readFileSync(file, 'utf8').trim()), 0)).toThrow();
      }
      await expect(fetch(tc.nodeUrls.s0a!)).rejects.toThrow();
      await expect(fetch(tc.nodeUrls.s0b!)).rejects.toThrow();
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });

  it('exits 2 listing every problem of an invalid config', async () => {
    tc = await writeTestConfig({ shards: 1, nodesPerShard: 3 });
    writeFileSync(tc.path, JSON.stringify({ ...tc.raw, replication: { ...tc.raw.replication, writeQuorum: 1 } }));
    const r = await tessera(['cluster', '--config', tc.path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('replication.writeQuorum: writeQuorum 1 is not a majority');
  });
});
