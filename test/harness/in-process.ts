import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { parseConfig, type Config } from '../../src/core/config/index.ts';
import { buildConfig } from '../../src/core/config/template.ts';
import { freePorts } from '../../src/launch/free-ports.ts';
import { waitFor } from '../../src/launch/wait-for.ts';
import { startRouter, type RunningRouter } from '../../router/main.ts';
import { startShard, type RunningShard } from '../../shard/main.ts';

// A whole cluster in the test process: real shard nodes (SQLite in a temp
// folder) and the real router, wired by their own composition roots and
// listening on loopback, the router driven through inject(). Component tests
// of the client API (strict input, roles, the fuzz run) use it: a real
// answer from real nodes, without nine child processes on two cores.

export interface InProcessCluster {
  config: Readonly<Config>;
  router: RunningRouter;
  shards: RunningShard[];
  inject(opts: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function startInProcessCluster(opts: {
  shards?: number;
  nodesPerShard?: number;
  /** Merged over the generated config before validation (e.g. `auth`). */
  extra?: Record<string, unknown>;
} = {}): Promise<InProcessCluster> {
  const shards = opts.shards ?? 1;
  const nodesPerShard = opts.nodesPerShard ?? 3;
  const ports = await freePorts(1 + shards * nodesPerShard);
  const dir = await mkdtemp(join(tmpdir(), 'tessera-inproc-'));
  const raw = buildConfig({
    name: 'inproc', secret: 'inproc-secret', routerPort: ports[0]!, nodePorts: ports.slice(1), shards, nodesPerShard,
    dataDir: join(dir, 'data'), replication: { healthCheckIntervalMs: 200, failoverTimeoutMs: 1000, writeTimeoutMs: 3000 },
  });
  const config = parseConfig({ ...raw, ...opts.extra }, { baseDir: dir, env: {} });
  const nodes: RunningShard[] = [];
  let router: RunningRouter | undefined;
  const close = async () => {
    await router?.close();
    await Promise.all(nodes.map((n) => n.close()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const s of config.shards) {
      for (const n of s.nodes) // No fsync: these tests are about answers, not durability (the cluster tier proves that).
      nodes.push(await startShard({ config, nodeId: n.id, logLevel: 'silent', synchronous: 'OFF' }));
    }
    router = await startRouter({ config, logLevel: 'silent' });
    const r = router;
    await waitFor(async () => (await r.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200, { timeoutMs: 15_000, message: 'router ready' });
  } catch (err) {
    await close();
    throw err;
  }
  return { config, router, shards: nodes, inject: (o) => router!.app.inject(o), close };
}
