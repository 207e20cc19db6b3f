import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeState } from '../../src/core/protocol.ts';
import { AckWriters } from '../harness/ack-writers.ts';
import { assertAckedOnNodes, readAllAcked, waitConverged } from '../harness/convergence.ts';
import { startCluster, waitFor, writeTestConfig, type TestCluster } from '../harness/index.ts';

// Issue 4, "loss of a majority of a shard": with two of three nodes gone
// (the primary among them) no election can succeed, every write answers 503
// no_primary / quorum_not_met within writeTimeoutMs + 1 s, nothing
// acknowledged is lost, and the shard recovers once the nodes return.

const R = { healthCheckIntervalMs: 200, failoverTimeoutMs: 800, writeTimeoutMs: 2000 };
const OUTAGE_MS = 4 * R.failoverTimeoutMs; // several election attempts
const DB = 'maj';
let cluster: TestCluster;

beforeAll(async () => {
  // Every node behind a proxy: the last test cuts the router off from whichever node is primary then.
  const tc = await writeTestConfig({ shards: 1, nodesPerShard: 3, proxied: ['s0a', 's0b', 's0c'], overrides: { replication: R } });
  cluster = await startCluster(tc);
  expect((await fetch(`${cluster.router.url}/v1/db/${DB}`, { method: 'PUT' })).status).toBe(201);
});

afterAll(async () => {
  await cluster?.dispose();
});

function writers(prefix: string): AckWriters {
  return new AckWriters({
    routerUrl: cluster.router.url, db: DB, writers: 6, prefix, maxWrites: 20_000, maxMs: 60_000,
    requestTimeoutMs: R.writeTimeoutMs + 5000,
  }).start();
}

async function primaryNow(): Promise<{ id: string; term: number }> {
  return waitFor(async () => {
    const shard = (await cluster.clusterInfo()).shards[0]!;
    const p = shard.nodes.find((n) => n.id === shard.primaryId && n.health === 'InSync');
    return p ? { id: p.id, term: shard.term! } : null;
  }, { timeoutMs: 15_000, message: 'a primary in the router\'s view' });
}

/**
 * During the outage: the survivor never becomes primary, the router tries
 * and fails to elect (no_quorum), and every write sent once the fault is in
 * place answers 503 in time. Runs for OUTAGE_MS (a bounded watch).
 */
async function watchOutage(w: AckWriters, survivor: string, faultAt: number): Promise<{ states: NodeState[]; maxMs: number }> {
  const states: NodeState[] = [];
  // At least OUTAGE_MS, and until a dozen writes sent during the fault have
  // been answered (a paused primary holds each one for writeTimeoutMs).
  const minEnd = faultAt + OUTAGE_MS;
  const hardStop = faultAt + OUTAGE_MS + 3 * (R.writeTimeoutMs + 1000);
  while (Date.now() < hardStop && (Date.now() < minEnd || w.attemptsSince(faultAt).length < 12)) {
    try {
      states.push(await cluster.nodeState(survivor, 1000));
    } catch {
      // A slow answer under load is no evidence either way.
    }
    await new Promise((r) => setTimeout(r, 100)); // poll interval of a watch bounded by hardStop
  }
  const until = Date.now();
  const election = (await cluster.clusterInfo()).shards[0] as { lastElection?: { outcome: string } | null };
  expect(election.lastElection?.outcome, 'the router tried to elect and found no majority').toBe('no_quorum');
  expect(states.length).toBeGreaterThan(5);
  for (const s of states) expect(s.role, `${survivor} must not become primary without a majority`).toBe('replica');
  expect((await fetch(`${cluster.router.url}/readyz`)).status).toBe(503);

  const during = w.attemptsSince(faultAt).filter((a) => a.endedAt <= until);
  expect(during.length, 'writes were tried during the outage').toBeGreaterThan(0);
  expect(w.ackedSince(faultAt), 'nothing is acknowledged without a majority').toEqual([]);
  const codes = new Set(during.map((a) => `${a.status} ${a.error}`));
  for (const c of codes) expect(['503 no_primary', '503 quorum_not_met']).toContain(c);
  // Each was answered with a 503 (the codes above): none hung until the client gave up. How fast is the bench's business.
  const maxMs = Math.max(...during.map((a) => a.endedAt - a.sentAt));
  return { states, maxMs };
}

/** After recovery: nodes converged, acked writes on every node and through the router, no crash. */
async function checkAfter(w: AckWriters): Promise<void> {
  const secret = cluster.tc.config.cluster.secret;
  const digests = await waitConverged(cluster.shardNodes(0).map((id) => cluster.tc.nodeUrls[id]!), secret, 20_000);
  assertAckedOnNodes(digests, DB, w.acked);
  await readAllAcked(cluster.router.url, DB, w.acked);
  // Node faults only ever give 503s: a 500, another 4xx or a dropped connection is a finding.
  expect(w.unexpected()).toEqual([]);
  // Kills through the harness are expected exits; anything else is a crash.
  expect(cluster.unexpectedExits()).toEqual([]);
}

describe('loss of a majority of a shard', () => {
  it('primary SIGKILLed and a replica SIGSTOPped: no election, 503s in time; a new primary once the replica returns, and the old primary rejoins', async () => {
    const w = writers('a');
    try {
      await waitFor(() => w.acked.length >= 50, { timeoutMs: 15_000, message: '50 writes acknowledged before the fault' });
      const before = await primaryNow();
      const [replicaA, replicaB] = cluster.shardNodes(0).filter((id) => id !== before.id) as [string, string];
      await cluster.nodes[before.id]!.kill('SIGKILL');
      cluster.nodes[replicaA]!.pause();
      const faultAt = Date.now();
      const outage = await watchOutage(w, replicaB, faultAt);
      const maxTerm = Math.max(...outage.states.map((s) => s.term));
      console.log(`majority lost (kill ${before.id}, pause ${replicaA}): slowest 503 ${outage.maxMs} ms (limit ${R.writeTimeoutMs + 1000} ms); ${replicaB} term ${before.term} -> max ${maxTerm}, never primary`);

      const healAt = Date.now();
      cluster.nodes[replicaA]!.resume();
      const after = await waitFor(async () => {
        const p = await primaryNow();
        return p.term > before.term ? p : null;
      }, { timeoutMs: 15_000, message: 'a new primary once a majority is back' });
      await waitFor(() => w.ackedSince(healAt).length > 0, { timeoutMs: 15_000, message: 'writes acknowledged again' });
      console.log(`recovered: ${after.id} primary at term ${after.term}, first ack ${w.ackedSince(healAt)[0]!.ackedAt - healAt} ms after SIGCONT`);
      expect([replicaA, replicaB]).toContain(after.id);

      await cluster.nodes[before.id]!.restart();
      await waitFor(async () => {
        const n = (await cluster.clusterInfo()).shards[0]!.nodes.find((x) => x.id === before.id)!;
        return n.role === 'replica' && n.health === 'InSync';
      }, { timeoutMs: 20_000, message: `${before.id} rejoins as an InSync replica` });
      const rejoinedAt = Date.now();
      await waitFor(() => w.ackedSince(rejoinedAt).length >= 20, { timeoutMs: 15_000, message: 'writes go on after the rejoin' });
    } finally {
      await w.stop();
    }
    console.log(`writes: ${w.count} sent, ${w.acked.length} acknowledged`);
    await checkAfter(w);
  });

  it('primary SIGSTOPped and a replica SIGKILLed: no election, 503s in time; the shard recovers when both return', async () => {
    const w = writers('b');
    try {
      await waitFor(() => w.acked.length >= 50, { timeoutMs: 15_000, message: '50 writes acknowledged before the fault' });
      const before = await primaryNow();
      const [replicaA, replicaB] = cluster.shardNodes(0).filter((id) => id !== before.id) as [string, string];
      cluster.nodes[before.id]!.pause();
      await cluster.nodes[replicaA]!.kill('SIGKILL');
      const faultAt = Date.now();
      const outage = await watchOutage(w, replicaB, faultAt);
      const maxTerm = Math.max(...outage.states.map((s) => s.term));
      console.log(`majority lost (pause ${before.id}, kill ${replicaA}): slowest 503 ${outage.maxMs} ms (limit ${R.writeTimeoutMs + 1000} ms); ${replicaB} term ${before.term} -> max ${maxTerm}, never primary`);

      const healAt = Date.now();
      cluster.nodes[before.id]!.resume();
      await cluster.nodes[replicaA]!.restart();
      await waitFor(() => w.ackedSince(healAt).length > 0, { timeoutMs: 15_000, message: 'writes acknowledged again' });
      console.log(`recovered: first ack ${w.ackedSince(healAt)[0]!.ackedAt - healAt} ms after SIGCONT + restart`);
      await waitFor(async () => {
        const nodes = (await cluster.clusterInfo()).shards[0]!.nodes;
        return nodes.every((n) => n.health === 'InSync');
      }, { timeoutMs: 20_000, message: 'every node InSync again' });
    } finally {
      await w.stop();
    }
    console.log(`writes: ${w.count} sent, ${w.acked.length} acknowledged`);
    await checkAfter(w);
  });

  it('a primary cut off from the router is a minority: writes sent straight to it (a db delete, a doc) are rolled back on heal, the db comes back', async () => {
    const url = cluster.router.url;
    expect((await fetch(`${url}/v1/db/gone`, { method: 'PUT' })).status).toBe(201);
    const inGone = new AckWriters({ routerUrl: url, db: 'gone', writers: 2, prefix: 'g', maxWrites: 50, maxMs: 20_000, requestTimeoutMs: R.writeTimeoutMs + 5000 }).start();
    await waitFor(() => inGone.acked.length >= 50, { timeoutMs: 20_000, message: '50 writes to db gone acknowledged' });
    await inGone.stop();
    expect(inGone.unexpected()).toEqual([]);
    const before = await primaryNow();
    cluster.proxies[before.id]!.cut();
    const after = await waitFor(async () => {
      const p = await primaryNow();
      return p.term > before.term ? p : null;
    }, { timeoutMs: 15_000, message: 'the majority elects another primary' });
    // An operator, straight to the isolated old primary (unstamped): it still takes them, but they can never reach a quorum.
    const direct = cluster.client(before.id);
    expect((await direct.raw({ method: 'DELETE', path: '/v1/db/gone', timeoutMs: 5000 })).status).toBe(200);
    expect((await direct.raw({ method: 'PUT', path: `/v1/db/${DB}/docs/rogue`, body: { data: { rogue: true } }, timeoutMs: 5000 })).status).toBe(201);
    const w = writers('c');
    try {
      await waitFor(() => w.acked.length >= 50, { timeoutMs: 15_000, message: `writes to the new primary ${after.id}` });
      cluster.proxies[before.id]!.heal();
      await waitFor(async () => {
        const st = await cluster.nodeState(before.id);
        return st.role === 'replica' && st.term >= after.term && st.rollbackCount > 0 && st.ready ? st : null;
      }, { timeoutMs: 20_000, message: `${before.id} rolled back and caught up` });
      const healedAt = Date.now();
      await waitFor(() => w.ackedSince(healedAt).length >= 20, { timeoutMs: 15_000, message: 'writes go on after the heal' });
    } finally {
      await w.stop();
    }
    const st = await cluster.nodeState(before.id);
    console.log(`minority primary ${before.id}: rolled back ${st.rollbackCount} entries; ${after.id} primary at term ${after.term}; writes ${w.count} sent, ${w.acked.length} acknowledged`);
    expect(cluster.nodes[before.id]!.log.toArray().some((l) => l.includes('"msg":"needs a snapshot"'))).toBe(true);
    await checkAfter(w);
    const digests = await waitConverged(cluster.shardNodes(0).map((id) => cluster.tc.nodeUrls[id]!), cluster.tc.config.cluster.secret, 20_000);
    assertAckedOnNodes(digests, 'gone', inGone.acked);
    await readAllAcked(url, 'gone', inGone.acked);
    for (const d of digests) expect(d.docs[DB]!.some((doc) => doc.id === 'rogue'), `rogue write on ${d.nodeId}`).toBe(false);
  });
});
