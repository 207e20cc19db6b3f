import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, TEST_SECRET, waitFor, writeTestConfig, type TestCluster, type TestConfig } from '../harness/index.ts';

// GET /metrics on a real 1×3 cluster, and the lifecycle log lines that go
// with the same events. Every metric named in issue 5 must exist on a fresh
// cluster and move when its event happens:
//   writes            → request counts/latency, quorum waits, acks, relay batches, node commits
//   primary SIGKILLed → an election (count and duration), the new primary's term
//   old primary back  → entries only it held are rolled back, it catches up
// (the router reaches the replicas through TCP proxies, to cut them off)
// Each event also has exactly one info line (router or node), and no output
// of any process carries the secret.

type Labels = Record<string, string>;
interface Sample { name: string; labels: Labels; value: number }

/** Parses Prometheus text: the samples and the `# TYPE` of each family. */
function parseMetrics(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Labels = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

class Scrape {
  readonly samples: Sample[];
  readonly types: Map<string, string>;
  constructor(text: string) {
    ({ samples: this.samples, types: this.types } = parseMetrics(text));
  }

  /** Sum of the samples of `name` whose labels include `labels`. */
  sum(name: string, labels: Labels = {}): number {
    return this.samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((a, s) => a + s.value, 0);
  }

  has(name: string, labels: Labels = {}): boolean {
    return this.samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }
}

const ROUTER_FAMILIES: Array<[string, string]> = [
  ['tessera_http_requests_total', 'counter'],
  ['tessera_http_request_duration_seconds', 'histogram'],
  ['tessera_quorum_wait_seconds', 'histogram'],
  ['tessera_write_acks', 'histogram'],
  ['tessera_relay_batch_entries', 'histogram'],
  ['tessera_replication_lag_entries', 'gauge'],
  ['tessera_replication_lag_ms', 'gauge'],
  ['tessera_elections_total', 'counter'],
  ['tessera_election_duration_seconds', 'histogram'],
  ['tessera_catchup_entries_total', 'counter'],
  ['tessera_snapshot_installs_total', 'counter'],
  ['tessera_rollback_entries_total', 'counter'],
  ['process_cpu_seconds_total', 'counter'],
];

const NODE_FAMILIES: Array<[string, string]> = [
  ['tessera_http_requests_total', 'counter'],
  ['tessera_http_request_duration_seconds', 'histogram'],
  ['tessera_sqlite_commit_seconds', 'histogram'],
  ['tessera_group_commit_writes', 'histogram'],
  ['tessera_node_rollback_entries_total', 'counter'],
  ['tessera_node_last_seq', 'gauge'],
  ['tessera_node_commit_seq', 'gauge'],
  ['tessera_node_term', 'gauge'],
  ['process_cpu_seconds_total', 'counter'],
];

const DOC_ROUTE = { route: '/v1/db/:db/docs/:id', method: 'PUT' };

/** Scrapes and writes against one test cluster. */
function helpers(tc: TestConfig) {
  const scrapeRouter = async () => {
    const res = await fetch(`${tc.routerUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return new Scrape(await res.text());
  };
  const scrapeNode = async (id: string) => {
    const res = await fetch(`${tc.nodeUrls[id]}/metrics`, { headers: { authorization: `Bearer ${TEST_SECRET}` }, signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    return new Scrape(await res.text());
  };
  const put = (db: string, id: string) =>
    fetch(`${tc.routerUrl}/v1/db/${db}/docs/${id}`, {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: { id } }), signal: AbortSignal.timeout(5000),
    });
  const writeMany = async (db: string, prefix: string, n: number) => {
    for (let i = 0; i < n; i += 10) {
      const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => put(db, `${prefix}${i + j}`)));
      for (const r of batch) expect(r.status, await r.clone().text()).toBe(201);
    }
  };
  return { scrapeRouter, scrapeNode, put, writeMany };
}

type Proc = { name: string; log: { toArray(): string[] } };
const jsonLines = (p: Proc) => p.log.toArray().filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
const withMsg = (ls: Array<Record<string, unknown>>, re: RegExp) => ls.filter((l) => typeof l.msg === 'string' && re.test(l.msg));

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.dispose();
  cluster = undefined;
});

describe('metrics and lifecycle logs on a 1×3 cluster', () => {
  it('exist from the start and move with writes, an election, a rollback and a catch-up', async () => {
    const tc = await writeTestConfig({ shards: 1, nodesPerShard: 3, proxied: ['s0b', 's0c'] });
    const c = await startCluster(tc);
    cluster = c;
    const { scrapeRouter, scrapeNode, writeMany } = helpers(tc);
    const router = tc.routerUrl;

    // ---- every family exists on a fresh cluster; node metrics need the secret
    const r0 = await scrapeRouter();
    for (const [name, type] of ROUTER_FAMILIES) expect(r0.types.get(name), `router ${name}`).toBe(type);
    const open = await fetch(`${tc.nodeUrls.s0a}/metrics`, { signal: AbortSignal.timeout(5000) });
    expect(open.status).toBe(401);
    const a0 = await scrapeNode('s0a');
    for (const [name, type] of NODE_FAMILIES) expect(a0.types.get(name), `node ${name}`).toBe(type);
    const b0 = await scrapeNode('s0b');

    // ---- writes
    expect((await fetch(`${router}/v1/db/m`, { method: 'PUT' })).status).toBe(201);
    const WRITES = 50;
    await writeMany('m', 'w', WRITES);
    const r1 = await scrapeRouter();
    const ok201 = { ...DOC_ROUTE, status: '201' };
    expect(r1.sum('tessera_http_requests_total', ok201) - r0.sum('tessera_http_requests_total', ok201)).toBe(WRITES);
    expect(r1.sum('tessera_http_request_duration_seconds_count', ok201)).toBe(WRITES);
    expect(r1.sum('tessera_http_request_duration_seconds_sum', ok201)).toBeGreaterThan(0);
    // The db create and the writes each waited for their quorum and were answered with 2 or 3 copies.
    expect(r1.sum('tessera_quorum_wait_seconds_count', { shard: '0', outcome: 'ok' })).toBe(WRITES + 1);
    expect(r1.sum('tessera_write_acks_count', { shard: '0' })).toBe(WRITES + 1);
    expect(r1.sum('tessera_write_acks_sum', { shard: '0' })).toBeGreaterThanOrEqual(2 * (WRITES + 1));
    // Both replicas get every entry (the db create and the writes) in batches; the slower one may
    // still be behind when its quorum partner already acknowledged.
    await waitFor(async () => (await scrapeRouter()).sum('tessera_relay_batch_entries_sum', { shard: '0' }) >= 2 * (WRITES + 1), {
      timeoutMs: 5000, message: 'relay batches to carry every entry to both replicas',
    });
    expect(r1.sum('tessera_relay_batch_entries_count', { shard: '0' })).toBeGreaterThan(0);
    await waitFor(async () => {
      const s = await scrapeRouter();
      return s.has('tessera_replication_lag_entries', { shard: '0', node: 's0b' }) && s.has('tessera_replication_lag_entries', { shard: '0', node: 's0c' });
    }, { timeoutMs: 5000, message: 'lag gauges of both replicas' });
    expect(r1.sum('tessera_elections_total', { outcome: 'elected' })).toBe(0);

    const a1 = await scrapeNode('s0a');
    const created = { ...DOC_ROUTE, status: '201' };
    expect(a1.sum('tessera_http_requests_total', created) - a0.sum('tessera_http_requests_total', created)).toBe(WRITES);
    expect(a1.sum('tessera_sqlite_commit_seconds_count')).toBeGreaterThan(a0.sum('tessera_sqlite_commit_seconds_count'));
    expect(a1.sum('tessera_group_commit_writes_sum') - a0.sum('tessera_group_commit_writes_sum')).toBeGreaterThanOrEqual(WRITES);
    expect(a1.sum('tessera_node_last_seq') - a0.sum('tessera_node_last_seq')).toBe(WRITES + 1);
    expect(a1.sum('tessera_node_commit_seq')).toBeGreaterThan(a0.sum('tessera_node_commit_seq'));
    expect(a1.sum('tessera_node_term')).toBe(1);
    await waitFor(async () => (await scrapeNode('s0b')).sum('tessera_node_last_seq') === a1.sum('tessera_node_last_seq'), {
      timeoutMs: 5000, message: 's0b last seq gauge to reach the primary\'s',
    });
    const b1 = await scrapeNode('s0b');
    expect(b1.sum('tessera_http_requests_total', { route: '/v1/_replication/replicate', method: 'POST', status: '200' }))
      .toBeGreaterThan(b0.sum('tessera_http_requests_total', { route: '/v1/_replication/replicate', method: 'POST', status: '200' }));

    // ---- entries only the primary holds: links to the replicas cut, then an operator's unstamped
    // writes straight to the primary (the router never holds them, so it cannot relay them later).
    c.proxies.s0b!.cut();
    c.proxies.s0c!.cut();
    for (const id of ['x1', 'x2', 'x3']) {
      const r = await fetch(`${tc.nodeUrls.s0a}/v1/db/m/docs/${id}`, {
        method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_SECRET}` },
        body: JSON.stringify({ data: { id } }), signal: AbortSignal.timeout(5000),
      });
      expect(r.status).toBe(201);
    }
    expect((await scrapeNode('s0a')).sum('tessera_node_last_seq')).toBe(a1.sum('tessera_node_last_seq') + 3);

    // ---- SIGKILL the primary and heal the links; the replicas elect one of them
    await c.nodes.s0a!.kill();
    c.proxies.s0b!.heal();
    c.proxies.s0c!.heal();
    const winner = await waitFor(async () => {
      const s = (await c.clusterInfo()).shards[0]!;
      return s.term === 2 && s.primaryId && s.primaryId !== 's0a' ? s.primaryId : null;
    }, { timeoutMs: 10_000, message: 'a new primary at term 2' });
    const r2 = await scrapeRouter();
    expect(r2.sum('tessera_elections_total', { shard: '0', reason: 'primary_offline', outcome: 'elected' })).toBe(1);
    expect(r2.sum('tessera_election_duration_seconds_count', { shard: '0' })).toBe(1);
    expect(r2.sum('tessera_election_duration_seconds_sum', { shard: '0' })).toBeGreaterThan(0);
    expect((await scrapeNode(winner)).sum('tessera_node_term')).toBe(2);
    // Lag is a replica's: the new primary's gauge goes, the old primary gets one.
    await waitFor(async () => {
      const s = await scrapeRouter();
      return !s.has('tessera_replication_lag_entries', { node: winner }) && s.has('tessera_replication_lag_entries', { node: 's0a' });
    }, { timeoutMs: 5000, message: 'lag gauges to follow the new roles' });

    // ---- more writes while s0a is down, then s0a returns: rollback of its 3 entries, then catch-up
    const MORE = 150;
    await writeMany('m', 'v', MORE);
    await c.nodes.s0a!.start();
    await waitFor(async () => {
      const s = (await c.clusterInfo()).shards[0]!;
      const a = s.nodes.find((n) => n.id === 's0a');
      const b = s.nodes.find((n) => n.id === winner);
      return a?.role === 'replica' && a.health === 'InSync' && a.lastSeq === b?.lastSeq;
    }, { timeoutMs: 15_000, message: 's0a back as an InSync replica' });
    const r3 = await scrapeRouter();
    expect(r3.sum('tessera_rollback_entries_total', { shard: '0', node: 's0a' })).toBe(3);
    expect(r3.sum('tessera_catchup_entries_total', { shard: '0', node: 's0a' })).toBeGreaterThanOrEqual(MORE);
    const a3 = await scrapeNode('s0a');
    expect(a3.sum('tessera_node_rollback_entries_total')).toBe(3);
    expect(a3.sum('tessera_node_term')).toBe(2);
    expect(c.unexpectedExits()).toEqual([]);

    // ---- one info line per event, nothing secret anywhere (output arrives through pipes: wait for the last event's line)
    await waitFor(() => c.nodes.s0a!.log.toArray().some((l) => l.includes('"msg":"rolled back"')), {
      timeoutMs: 5000, message: 's0a\'s "rolled back" line',
    });
    const routerLines = jsonLines(c.router);
    expect(withMsg(routerLines, /^election elected/)).toHaveLength(1);
    const catchingUp = withMsg(routerLines, /^replica catching up$/).filter((l) => l.node === 's0a');
    const caughtUp = withMsg(routerLines, /^replica caught up$/).filter((l) => l.node === 's0a');
    expect(catchingUp).toHaveLength(1);
    expect(caughtUp).toHaveLength(1);
    expect(withMsg(jsonLines(c.nodes[winner]!), /^promoted$/)).toHaveLength(1);
    const s0aLines = jsonLines(c.nodes.s0a!);
    expect(withMsg(s0aLines, /^rolled back$/)).toEqual([expect.objectContaining({ entries: 3 })]);
    expect(withMsg(s0aLines, /^stepped down$/)).toHaveLength(1);
    // Request logs are debug: a default (info) log has none.
    expect(withMsg(routerLines, /^request$/)).toEqual([]);

    for (const p of [c.router, c.nodes.s0c!]) {
      const loaded = withMsg(jsonLines(p), /^config loaded$/);
      expect(loaded, p.name).toHaveLength(1);
      const cfg = loaded[0]!.config as { cluster: { name: string; secret: string }; shards: unknown[] };
      expect(cfg.cluster.secret).toBe('[redacted]');
      expect(cfg.shards).toHaveLength(1);
      expect(loaded[0]!.file).toBe(p === c.router ? tc.routerPath : tc.path);
      expect(JSON.stringify(loaded[0])).not.toContain(TEST_SECRET);
    }
    for (const p of [c.router, ...Object.values(c.nodes)]) {
      expect(p.tail(1000), p.name).not.toContain(TEST_SECRET);
      // No framework deprecation warnings on stderr (e.g. fastify's FSTDEP022 for maxParamLength).
      expect(p.tail(1000), p.name).not.toMatch(/DeprecationWarning|FSTDEP/);
    }
  });
  it('count a snapshot install and log its start and end on router and node', async () => {
    // A small WAL, and a router restarted while s0c is down (its relay buffer would otherwise hold
    // every entry s0c missed): s0c can only come back through a snapshot.
    const tc = await writeTestConfig({ shards: 1, nodesPerShard: 3, overrides: { replication: { walRetention: 100 } } });
    const c = await startCluster(tc);
    cluster = c;
    const { scrapeRouter, writeMany } = helpers(tc);
    expect((await fetch(`${tc.routerUrl}/v1/db/snap`, { method: 'PUT' })).status).toBe(201);
    await c.nodes.s0c!.kill();
    await writeMany('snap', 'd', 300);
    expect((await c.nodeState('s0a')).oldestSeq).toBeGreaterThan(100);
    await c.router.restart();
    await waitFor(async () => (await fetch(`${tc.routerUrl}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200, {
      timeoutMs: 20_000, message: 'restarted router ready',
    });
    const before = await scrapeRouter();
    expect(before.sum('tessera_snapshot_installs_total', { node: 's0c' })).toBe(0);
    await c.nodes.s0c!.start();
    await waitFor(async () => {
      const s = (await c.clusterInfo()).shards[0]!;
      const n = s.nodes.find((x) => x.id === 's0c');
      return n?.health === 'InSync' && n.lastSeq === s.nodes.find((x) => x.id === 's0a')?.lastSeq;
    }, { timeoutMs: 15_000, message: 's0c back and InSync' });
    const after = await scrapeRouter();
    expect(after.sum('tessera_snapshot_installs_total', { shard: '0', node: 's0c', outcome: 'ok' })).toBe(1);
    expect(after.sum('tessera_snapshot_installs_total', { node: 's0c', outcome: 'failed' })).toBe(0);
    await waitFor(() => c.nodes.s0c!.log.toArray().some((l) => l.includes('"msg":"snapshot installed"')), { timeoutMs: 5000, message: 's0c\'s "snapshot installed" line' });
    const node = jsonLines(c.nodes.s0c!);
    expect(withMsg(node, /^installing snapshot$/)).toHaveLength(1);
    expect(withMsg(node, /^snapshot installed$/)).toHaveLength(1);
    // The harness keeps the output of both router processes: only the restarted one's lines count.
    const routerLines = jsonLines(c.router).filter((l) => l.node === 's0c' && l.pid === c.router.pid);
    expect(withMsg(routerLines, /^replica catching up$/)).toEqual([expect.objectContaining({ reason: 'snapshot' })]);
    expect(withMsg(routerLines, /^replica caught up$/)).toEqual([expect.objectContaining({ snapshot: true })]);
    expect(c.unexpectedExits()).toEqual([]);
  });
});
