import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckWriters } from '../harness/ack-writers.ts';
import { assertAckedOnNodes, readAllAcked, waitConverged } from '../harness/convergence.ts';
import { startCluster, TESSERA_BIN, waitFor, writeTestConfig, type TestCluster } from '../harness/index.ts';

// Issue 4, "manual failover under load loses nothing": POST
// /v1/_cluster/shards/{id}/failover ({to?}, Bearer secret) while writers keep
// going; the refusals (paused target 409, unknown shard or node 404, no
// secret 401); and `tessera failover` / `tessera status` against the router.

const R = { healthCheckIntervalMs: 200, failoverTimeoutMs: 800, writeTimeoutMs: 2000 };
const DB = 'man';
let cluster: TestCluster;
let w: AckWriters;

beforeAll(async () => {
  const tc = await writeTestConfig({ shards: 1, nodesPerShard: 3, overrides: { replication: R } });
  cluster = await startCluster(tc);
  expect((await fetch(`${cluster.router.url}/v1/db/${DB}`, { method: 'PUT' })).status).toBe(201);
  w = new AckWriters({
    routerUrl: cluster.router.url, db: DB, writers: 6, prefix: 'm', maxWrites: 40_000, maxMs: 150_000, requestTimeoutMs: R.writeTimeoutMs + 5000,
  }).start();
});

afterAll(async () => {
  await w?.stop();
  await cluster?.dispose();
});

async function failover(shard: number | string, body: unknown, auth: string | null = `Bearer ${cluster.tc.config.cluster.secret}`) {
  const started = Date.now();
  const res = await fetch(`${cluster.router.url}/v1/_cluster/shards/${shard}/failover`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, body: await res.json() as Record<string, unknown>, ms: Date.now() - started };
}

async function view(): Promise<{ term: number; primaryId: string }> {
  const s = (await cluster.clusterInfo()).shards[0]!;
  return { term: s.term!, primaryId: s.primaryId! };
}

async function moreAcked(n: number, what: string): Promise<void> {
  const target = w.acked.length + n;
  await waitFor(() => w.acked.length >= target, { timeoutMs: 30_000, message: what });
}

/** Every node's own state agrees: `primary` is primary at `term`, the others replicas at `term`. */
async function nodesAgree(primary: string, term: number): Promise<void> {
  await waitFor(async () => {
    const states = await Promise.all(cluster.shardNodes(0).map((id) => cluster.nodeState(id)));
    return states.every((s) => s.term === term && s.role === (s.nodeId === primary ? 'primary' : 'replica'));
  }, { timeoutMs: 10_000, message: `every node at term ${term} with ${primary} primary` });
}

/**
 * Writes sent around the switchover: how long no write sent then was
 * acknowledged, and what the others got (paused writes wait; a write caught
 * by the term change answers 503 indeterminate).
 */
function around(t0: number, t1: number): string {
  const lastBefore = Math.max(0, ...w.acked.filter((a) => a.ackedAt <= t0).map((a) => a.ackedAt));
  const firstAfter = Math.min(...w.acked.filter((a) => a.ackedAt >= t0).map((a) => a.ackedAt));
  const failed = w.attempts.filter((a) => a.endedAt >= t0 && a.sentAt <= t1 && a.error !== null);
  const codes = [...new Set(failed.map((a) => `${a.status} ${a.error}`))].join(', ') || 'none';
  return `gap between acks ${firstAfter - lastBefore} ms, failed writes ${failed.length} (${codes})`;
}

describe('manual failover under load', () => {
  it('without `to`: a replica caught up with writes paused takes over at term+1, writes go on (which replica: rules/switchover.test.ts)', async () => {
    await moreAcked(100, 'writes before the switchover');
    const before = await view();
    const t0 = Date.now();
    const r = await failover(0, {});
    const t1 = Date.now();
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({ shard: 0, primary: expect.any(String), term: before.term + 1 });
    expect(r.body.primary).not.toBe(before.primaryId);
    expect(await view()).toEqual({ term: before.term + 1, primaryId: r.body.primary });
    await nodesAgree(r.body.primary as string, before.term + 1);
    await moreAcked(100, 'writes after the switchover');
    console.log(`switchover ${before.primaryId} -> ${r.body.primary} (term ${r.body.term}) in ${r.ms} ms; ${around(t0, t1)}`);
  });

  it('with `to`: the named node (the former primary) takes over', async () => {
    const before = await view();
    const to = cluster.shardNodes(0)[0] === before.primaryId ? cluster.shardNodes(0)[1]! : cluster.shardNodes(0)[0]!;
    const t0 = Date.now();
    const r = await failover(0, { to });
    const t1 = Date.now();
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({ shard: 0, primary: to, term: before.term + 1 });
    await nodesAgree(to, before.term + 1);
    await moreAcked(100, 'writes after the switchover');
    console.log(`switchover ${before.primaryId} -> ${to} (term ${r.body.term}) in ${r.ms} ms; ${around(t0, t1)}`);
  });

  it('refuses a SIGSTOPped target with 409 and keeps the primary; 404 unknown shard or node; 401 without the secret', async () => {
    const before = await view();
    const target = cluster.shardNodes(0).find((id) => id !== before.primaryId)!;
    cluster.nodes[target]!.pause();
    try {
      const r = await failover(0, { to: target });
      expect(r.status, JSON.stringify(r.body)).toBe(409);
      expect(r.body).toMatchObject({ ok: false, error: 'conflict', outcome: 'target_unreachable' });
      expect(r.ms).toBeLessThan(15_000);
      expect(await view()).toEqual(before);
      await moreAcked(50, 'writes go on with the target paused');
    } finally {
      cluster.nodes[target]!.resume();
    }
    expect(await view()).toEqual(before);

    expect((await failover(7, {})).status).toBe(404);
    expect((await failover(0, { to: 'nope' })).status).toBe(404);
    const noSecret = await failover(0, {}, null);
    expect(noSecret.status).toBe(401);
    expect(noSecret.body.error).toBe('unauthorized');
    expect((await failover(0, {}, 'Bearer wrong')).status).toBe(401);
    expect(await view()).toEqual(before);
  });

  it('`tessera failover --shard 0` exits 0 and `tessera status` shows the new primary', async () => {
    await waitFor(async () => (await cluster.clusterInfo()).shards[0]!.nodes.every((n) => n.health === 'InSync'), { timeoutMs: 15_000, message: 'every node InSync' });
    const before = await view();
    const out = await tessera(['failover', '--shard', '0', '--config', cluster.tc.path]);
    expect(out.code, out.stderr).toBe(0);
    const answer = JSON.parse(out.stdout) as { shard: number; primary: string; term: number };
    expect(answer.term).toBe(before.term + 1);
    expect(answer.primary).not.toBe(before.primaryId);
    const status = await tessera(['status', '--config', cluster.tc.path]);
    expect(status.code, status.stderr).toBe(0);
    const rows = status.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
    const primaries = rows.filter((r) => r[2] === 'primary');
    expect(primaries.map((r) => [r[1], r[3]])).toEqual([[answer.primary, String(answer.term)]]);
    await moreAcked(100, 'writes after the CLI switchover');
  });

  it('lost nothing: converged, every acknowledged write on every node and through the router', async () => {
    await w.stop();
    console.log(`writes: ${w.count} sent, ${w.acked.length} acknowledged, ${w.attempts.filter((a) => a.error !== null).length} failed`);
    const digests = await waitConverged(cluster.shardNodes(0).map((id) => cluster.tc.nodeUrls[id]!), cluster.tc.config.cluster.secret, 20_000);
    assertAckedOnNodes(digests, DB, w.acked);
    await readAllAcked(cluster.router.url, DB, w.acked);
    // A planned switchover is not a fault: no write may fail with anything but a 503.
    expect(w.unexpected()).toEqual([]);
    expect(cluster.unexpectedExits()).toEqual([]);
  });
});

function tessera(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (k.startsWith('TESSERA_')) delete env[k];
  return new Promise((resolve) => {
    execFile(process.execPath, [TESSERA_BIN, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}
