// Shard-node write benchmark (not a test): one real `tessera shard` process
// (primary of a 1-node shard, synchronous=FULL), 64 concurrent clients doing
// PUTs of new documents for N seconds, once with group commit and once
// without (TESSERA_GROUP_COMMIT=0). Prints ops/s and p50/p99/max latency.
//
//   npx tsx scripts/bench-shard.ts [--seconds 5] [--clients 64] [--bytes 200]

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePorts } from '../src/launch/free-ports.ts';
import { ManagedProcess } from '../src/launch/managed-process.ts';
import { NodeClient } from '../src/core/http/client.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, clients: { type: 'string', default: '64' }, bytes: { type: 'string', default: '200' } },
});
const SECONDS = Number(values.seconds);
const CLIENTS = Number(values.clients);
const PAYLOAD = 'x'.repeat(Number(values.bytes));
const SECRET = 'bench-secret';

interface Result {
  mode: string;
  ops: number;
  errors: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  max: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(mode: 'group commit on' | 'group commit off'): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-shard-'));
  const [routerPort, nodePort] = await freePorts(2);
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({
    cluster: { name: 'bench', secret: SECRET },
    router: { url: `http://127.0.0.1:${routerPort}` },
    dataDir: join(dir, 'data'),
    replication: { writeQuorum: 1, allowUnsafeQuorum: true },
    shards: [{ id: 0, nodes: [{ id: 'b0', url: `http://127.0.0.1:${nodePort}` }] }],
  }));
  const node = new ManagedProcess({
    name: 'b0',
    args: ['shard', '--config', configPath, '--node', 'b0', '--log-level', 'info'],
    env: { TESSERA_GROUP_COMMIT: mode === 'group commit on' ? '1' : '0', TESSERA_SQLITE_SYNCHRONOUS: 'FULL', TESSERA_LOG_LEVEL: undefined },
  });
  const client = new NodeClient(`http://127.0.0.1:${nodePort}`, SECRET, { connections: CLIENTS });
  try {
    await node.start(); // resolves on the node's `listening` line
    await client.json({ method: 'PUT', path: '/v1/db/bench', timeoutMs: 5000 });
    const latencies: number[] = [];
    let errors = 0;
    const started = performance.now();
    const end = started + SECONDS * 1000;
    await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; performance.now() < end; i++) {
        const t0 = performance.now();
        const res = await client.raw({ method: 'PUT', path: `/v1/db/bench/docs/c${c}-${i}`, body: { data: { c, i, payload: PAYLOAD } }, timeoutMs: 10_000 });
        if (res.status === 201) latencies.push(performance.now() - t0);
        else errors++;
      }
    }));
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      mode, ops: latencies.length, errors, opsPerSec: latencies.length / elapsed,
      p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? Number.NaN,
    };
  } finally {
    await client.destroy();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results: Result[] = [];
for (const mode of ['group commit on', 'group commit off'] as const) {
  process.stderr.write(`running ${mode} for ${SECONDS}s with ${CLIENTS} clients...\n`);
  results.push(await run(mode));
}
const fmt = (n: number) => n.toFixed(1).padStart(9);
process.stdout.write(`\n${'mode'.padEnd(18)}${'ops'.padStart(9)}${'ops/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'max ms'.padStart(9)}${'errors'.padStart(9)}\n`);
for (const r of results) {
  process.stdout.write(`${r.mode.padEnd(18)}${String(r.ops).padStart(9)}${fmt(r.opsPerSec)}${fmt(r.p50)}${fmt(r.p99)}${fmt(r.max)}${String(r.errors).padStart(9)}\n`);
}
