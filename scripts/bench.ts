// `npm run bench` (npx tsx scripts/bench.ts [--duration S] [--clients N] [--op write|read|mixed]):
// starts a throw-away local cluster per topology (1 shard × 3 nodes, then
// 3 × 3) on free loopback ports with temp data dirs, runs `tessera bench`'s
// load generator against each, prints one comparison table, and stops
// everything (also on Ctrl-C and on failure). With --failover, each
// topology also gets a failover run: write load while shard 0's primary is
// SIGKILLed, reporting the election time, the unavailability window of that
// shard and the acknowledged writes lost (must be 0).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/core/config/index.ts';
import { buildConfig } from '../src/core/config/template.ts';
import { freePorts } from '../src/launch/free-ports.ts';
import { launchCluster, type RunningCluster } from '../src/launch/cluster.ts';
import { runBench } from '../src/cli/bench-runner.ts';
import { resultsTable, type BenchOp, type BenchResult } from '../src/cli/bench-stats.ts';
import { terminalLine } from '../src/cli/log-filter.ts';
import { runFailoverBench, type FailoverBenchResult } from '../src/cli/bench-failover.ts';
import { renderTable } from '../src/cli/table.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    clients: { type: 'string', default: '64' },
    op: { type: 'string', default: 'write,read' },
    topologies: { type: 'string', default: '1x3,3x3' },
    failover: { type: 'boolean', default: false },
  },
});
const durationS = Number(values.duration);
const clients = Number(values.clients);
const ops = values.op.split(',') as BenchOp[];
const topologies = values.topologies.split(',').map((t) => {
  const m = /^(\d+)x(\d+)$/.exec(t);
  if (!m) throw new Error(`bad topology ${t}: use SHARDSxNODES, e.g. 3x3`);
  return { label: t, shards: Number(m[1]), nodesPerShard: Number(m[2]) };
});
if (!(durationS > 0) || !(clients > 0) || !ops.every((o) => ['write', 'read', 'mixed'].includes(o))) {
  process.stderr.write('usage: tsx scripts/bench.ts [--duration S] [--clients N] [--op write,read,mixed] [--topologies 1x3,3x3] [--failover]\n');
  process.exit(2);
}

const say = (line: string) => process.stderr.write(`${line}\n`);
let current: { cluster?: RunningCluster; dir: string } | null = null;
const cleanup = async () => {
  const c = current;
  current = null;
  if (!c) return;
  await c.cluster?.stop(5_000);
  await rm(c.dir, { recursive: true, force: true });
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    say(`bench: ${sig}, stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

const results: BenchResult[] = [];
const failovers: Array<{ label: string } & FailoverBenchResult> = [];
try {
  for (const topo of topologies) {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-'));
    current = { dir };
    const n = topo.shards * topo.nodesPerShard;
    const ports = await freePorts(1 + n);
    const raw = buildConfig({
      name: `bench-${topo.label}`, secret: 'bench-secret', routerPort: ports[0]!, nodePorts: ports.slice(1),
      shards: topo.shards, nodesPerShard: topo.nodesPerShard, dataDir: join(dir, 'data'),
    });
    const configPath = join(dir, 'config.json');
    await writeFile(configPath, JSON.stringify(raw, null, 2));
    const config = loadConfig(configPath, {});
    say(`bench: starting ${topo.label} (${topo.shards} shard(s) × ${topo.nodesPerShard} nodes) in ${dir}`);
    current.cluster = await launchCluster({
      configPath, config, logDir: join(dir, 'logs'), env: { TESSERA_SECRET: undefined },
      onLine: (name, line) => {
        const shown = terminalLine(name, line, 40);
        if (shown) say(shown);
      },
    });
    for (const op of ops) {
      say(`bench: ${topo.label} ${op}, ${clients} clients, ${durationS} s`);
      results.push(await runBench({
        routerUrl: current.cluster.routerUrl, clients, durationMs: durationS * 1000, op,
        label: topo.label, db: `bench_${op}`, onProgress: (l) => say(`  ${l}`),
      }));
    }
    if (values.failover) {
      say(`bench: ${topo.label} failover run, ${clients} clients, ${durationS} s`);
      const f = await runFailoverBench({
        routerUrl: current.cluster.routerUrl, shardCount: topo.shards, shard: 0, nodes: current.cluster.nodes,
        clients, durationMs: durationS * 1000, onProgress: (l) => say(`  ${l}`),
      });
      failovers.push({ label: topo.label, ...f });
      for (const v of f.lostExamples) say(`  LOST ${v}`);
    }
    await cleanup();
  }
  process.stdout.write(`\n${resultsTable(results, Boolean(process.stdout.isTTY) && !process.env.NO_COLOR)}`);
  if (failovers.length > 0) {
    const ms = (v: number | null) => (v === null ? '-' : String(v));
    process.stdout.write(`\nfailover runs (shard 0's primary SIGKILLed a third of the way in):\n${renderTable(
      [{ header: 'RUN' }, { header: 'KILLED' }, { header: 'NEW PRIMARY' }, { header: 'ELECTION MS', align: 'right' }, { header: 'UNAVAILABLE MS', align: 'right' },
        { header: 'ACKED', align: 'right' }, { header: 'FAILED', align: 'right' }, { header: 'LOST', align: 'right' }],
      failovers.map((f) => [f.label, f.killed ?? '-', f.newPrimary ?? '-', ms(f.electionMs), ms(f.unavailableMs), String(f.acked), String(f.failed), String(f.lost)]),
    )}`);
    if (failovers.some((f) => f.lost > 0 || f.newPrimary === null)) process.exitCode = 1;
  }
} catch (err) {
  say(`bench: failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
