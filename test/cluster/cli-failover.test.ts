import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { idsOnShard } from '../../src/cli/failover-checks.ts';
import { startCluster, TESSERA_BIN, TEST_SECRET, writeTestConfig, type ClusterInfo, type TestCluster } from '../harness/index.ts';

// `tessera status` and `tessera failover` as an operator runs them, against a
// real 2×3 cluster started by the harness (cli-cluster.test.ts covers
// `tessera cluster` itself). Exit codes as documented: 0 ok, 1 the operation
// failed or the router is unreachable, 2 usage or config error.

interface Run { code: number; stdout: string; stderr: string }

/** Runs `tessera ...` with no TESSERA_* variable from the runner's environment (unless given). */
function tessera(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const clean: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(clean)) if (k.startsWith('TESSERA_')) delete clean[k];
  return new Promise((resolve) => {
    execFile(process.execPath, [TESSERA_BIN, ...args], { env: { ...clean, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The node table's rows as arrays of cells (header dropped). */
function tableRows(stdout: string): string[][] {
  // The node table comes first; the shard table follows after a blank line.
  const lines = stdout.trim().split('\n\n')[0]!.split('\n');
  expect(lines[0]!.trim().split(/\s+/)).toEqual(['SHARD', 'NODE', 'ROLE', 'TERM', 'LASTSEQ', 'LAG', 'HEALTH', 'COMMITSEQ', 'ROLLBACKS']);
  return lines.slice(1).map((l) => l.trim().split(/\s+/));
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

let cluster: TestCluster;
let router: string;
let configPath: string;

beforeAll(async () => {
  const tc = await writeTestConfig({ shards: 2, nodesPerShard: 3 });
  cluster = await startCluster(tc);
  router = tc.routerUrl;
  configPath = tc.path;
}, 120_000);

afterAll(async () => {
  await cluster?.dispose();
});

describe('tessera status', () => {
  it('prints the cluster table: one primary per shard, every node InSync, no colours off a terminal', async () => {
    const r = await tessera(['status', '--router', router]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/\x1b\[/);
    const rows = tableRows(r.stdout);
    expect(rows.map((row) => row[1]).sort()).toEqual(cluster.tc.nodeIds.slice().sort());
    for (const shard of ['0', '1']) {
      const mine = rows.filter((row) => row[0] === shard);
      expect(mine.filter((row) => row[2] === 'primary')).toHaveLength(1);
      expect(mine.filter((row) => row[2] === 'replica')).toHaveLength(2);
      for (const row of mine) expect(row[3]).toBe('1');
    }
    // The table is /v1/_cluster, shown.
    const info = await cluster.clusterInfo();
    for (const row of rows) {
      const node = info.shards[Number(row[0])]!.nodes.find((n) => n.id === row[1])!;
      expect(row[2]).toBe(node.role);
    }
  });

  it('--json prints /v1/_cluster as JSON, with no secret in it', async () => {
    const r = await tessera(['status', '--json', '--config', configPath]);
    expect(r.code, r.stderr).toBe(0);
    const body = JSON.parse(r.stdout) as ClusterInfo;
    expect(body.shards.map((s) => s.id)).toEqual([0, 1]);
    for (const s of body.shards) {
      expect(s.nodes).toHaveLength(3);
      expect(s.nodes.filter((n) => n.role === 'primary').map((n) => n.id)).toEqual([s.primaryId]);
    }
    expect(r.stdout).not.toContain(TEST_SECRET);
  });

  it('exits 1 when the router is unreachable and 2 on a usage or config error', async () => {
    const port = await closedPort();
    const [down, badConfig] = await Promise.all([
      tessera(['status', '--router', `http://127.0.0.1:${port}`]),
      tessera(['status', '--config', '/nonexistent/tessera.json']),
    ]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the router/);
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toMatch(/cannot read/);
  });
});

describe('tessera failover', () => {
  it('switches shard 1 to the named node; status then shows it as primary in the next term, and writes go on', async () => {
    const before = (await cluster.clusterInfo()).shards[1]!;
    expect(before.primaryId).toBe('s1a');
    const r = await tessera(['failover', '--shard', '1', '--to', 's1c', '--config', configPath]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ shard: 1, primary: 's1c', term: before.term! + 1 });

    const [status, plain] = await Promise.all([tessera(['status', '--json', '--router', router]), tessera(['status', '--router', router])]);
    const s1 = (JSON.parse(status.stdout) as ClusterInfo).shards[1]!;
    expect(s1.primaryId).toBe('s1c');
    expect(s1.term).toBe(before.term! + 1);
    const table = tableRows(plain.stdout);
    expect(table.find((row) => row[1] === 's1c')!.slice(2, 4)).toEqual(['primary', String(before.term! + 1)]);
    expect(table.find((row) => row[1] === 's1a')![2]).toBe('replica');
    // Shard 0 was left alone.
    expect(table.filter((row) => row[0] === '0' && row[2] === 'primary').map((row) => row[1])).toEqual(['s0a']);

    // A write to a document of shard 1 lands on the new primary.
    expect((await fetch(`${router}/v1/db/clif`, { method: 'PUT' })).status).toBe(201);
    const id = idsOnShard('cli', 1, 2).next().value as string;
    const put = await fetch(`${router}/v1/db/clif/docs/${id}`, {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: { x: 1 } }),
    });
    expect(put.status).toBe(201);
    expect(((await put.json()) as { shard: number }).shard).toBe(1);
    expect((await cluster.nodeState('s1c')).lastSeq).toBeGreaterThanOrEqual(((await cluster.nodeState('s1a')).lastSeq));
  });

  it('without --to picks an up-to-date replica, taking the secret from TESSERA_SECRET', async () => {
    const before = (await cluster.clusterInfo()).shards[1]!;
    const r = await tessera(['failover', '--shard', '1', '--router', router], { TESSERA_SECRET: TEST_SECRET });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { shard: number; primary: string; term: number };
    expect(out.shard).toBe(1);
    expect(out.primary).not.toBe(before.primaryId);
    expect(['s1a', 's1b']).toContain(out.primary);
    expect(out.term).toBe(before.term! + 1);
    const after = (await cluster.clusterInfo()).shards[1]!;
    expect([after.primaryId, after.term]).toEqual([out.primary, out.term]);
    expect(cluster.unexpectedExits()).toEqual([]);
  });

  it('exits 1 when the router refuses (unknown node or shard, wrong secret) and changes nothing', async () => {
    const before = (await cluster.clusterInfo()).shards[1]!;
    const [unknownNode, unknownShard, wrongSecret] = await Promise.all([
      tessera(['failover', '--shard', '1', '--to', 's0b', '--config', configPath]),
      tessera(['failover', '--shard', '7', '--config', configPath]),
      tessera(['failover', '--shard', '1', '--router', router, '--secret', 'not-the-secret']),
    ]);
    expect(unknownNode.code).toBe(1);
    expect(unknownNode.stderr).toMatch(/404 not_found: No node s0b in shard 1/);
    expect(unknownShard.code).toBe(1);
    expect(unknownShard.stderr).toMatch(/404 not_found/);
    expect(wrongSecret.code).toBe(1);
    expect(wrongSecret.stderr).toMatch(/401 unauthorized/);
    const after = (await cluster.clusterInfo()).shards[1]!;
    expect([after.primaryId, after.term]).toEqual([before.primaryId, before.term]);
  });

  it('exits 2 on usage errors without calling the router', async () => {
    const [noShard, noSecret] = await Promise.all([
      tessera(['failover', '--router', router, '--secret', TEST_SECRET]),
      tessera(['failover', '--shard', '0', '--router', router]),
    ]);
    expect(noShard.code).toBe(2);
    expect(noShard.stderr).toMatch(/--shard N is required/);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toMatch(/no cluster secret/);
    expect((await cluster.clusterInfo()).shards[0]!.term).toBe(1);
  });
});
