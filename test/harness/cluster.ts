import { fetch } from 'undici';
import type { ClusterInfo } from '../../src/cli/cluster-table.ts';
import { trustingAgent } from '../../src/core/http/tls.ts';
import { NodeClient } from '../../src/core/http/client.ts';
import type { NodeState } from '../../src/core/protocol.ts';
import { launchCluster, nodeSpec, routerSpec } from '../../src/launch/cluster.ts';
import { ManagedProcess, type ProcessSpec } from '../../src/launch/managed-process.ts';
import type { TcpProxy } from '../../src/launch/tcp-proxy.ts';
import type { TestConfig } from './test-config.ts';

export type { ClusterInfo };

// The cluster tests' view of a real cluster: src/launch/cluster.ts starts it
// (the same launch sequence as `tessera cluster`), this adds what tests need
// on top: clients with the secret, node states, the router's table, crash
// detection and a teardown that always kills everything.

export interface ClusterOptions {
  /** Extra env for every child (e.g. { TESSERA_GROUP_COMMIT: '0' }). */
  env?: NodeJS.ProcessEnv;
  /** Passed as --log-level to every child; default 'info' (lifecycle lines only). */
  logLevel?: string;
  /** Per-process ready deadline, default 45 s (nine tsx processes starting at once on 2 cores are slow). */
  startTimeoutMs?: number;
  /** Wait until the router's /readyz is 200 (default true), up to this many ms. */
  readyTimeoutMs?: number;
  waitReady?: boolean;
  /** Script run instead of bin/tessera.mjs (a stand-in in the harness's own tests). */
  entry?: string;
  /** Remove the config's temp folder on dispose (default true). */
  cleanup?: boolean;
}

export interface TestCluster {
  tc: TestConfig;
  /** nodeId → its process (kill/stop/pause/resume/restart keep the same object). */
  nodes: Record<string, ManagedProcess>;
  router: ManagedProcess & { url: string };
  /** nodeId → the proxy between the router and that node (only proxied nodes). */
  proxies: Record<string, TcpProxy>;
  /** A client for a node's internal API, with the cluster secret. */
  client(nodeId: string): NodeClient;
  /** GET /v1/_replication/state of one node (throws when unreachable). */
  nodeState(nodeId: string, timeoutMs?: number): Promise<NodeState>;
  /** GET /v1/_cluster from the router (throws on a non-200 answer). */
  clusterInfo(): Promise<ClusterInfo>;
  /**
   * Processes that exited without the test asking (crashes; also kills from
   * outside the harness), with their last output. Assert it is empty to
   * prove no process crashed.
   */
  unexpectedExits(): Array<{ name: string; code: number | null; signal: NodeJS.Signals | null; tail: string }>;
  /** Ids of a shard's nodes in config order. */
  shardNodes(shard: number): string[];
  /** Kills every child, closes proxies and clients, removes the temp folder. Safe to call twice. */
  dispose(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 45_000;

/** The env a harness child gets: TESSERA_* from the test runner's env would override the test config. */
function isolatedEnv(extra: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('TESSERA_')) env[k] = undefined;
  return { ...env, ...extra };
}

/** Echo children's output to stderr when TESSERA_TEST_LOGS=1 (debugging a failing test). */
function echo(name: string): ProcessSpec['onLine'] {
  if (process.env.TESSERA_TEST_LOGS !== '1') return undefined;
  return (line) => process.stderr.write(`[${name}] ${line}\n`);
}

function childOptions(opts: ClusterOptions) {
  return {
    env: isolatedEnv(opts.env),
    logLevel: opts.logLevel ?? 'info',
    startTimeoutMs: opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    ...(opts.entry ? { entry: opts.entry } : {}),
  };
}

/** One node of a test config, not started (restarts in tests reuse it). */
export function nodeProcess(tc: TestConfig, nodeId: string, opts: ClusterOptions = {}): ManagedProcess {
  const onLine = echo(nodeId);
  return new ManagedProcess(nodeSpec(tc.path, nodeId, { ...childOptions(opts), ...(onLine ? { onLine } : {}) }));
}

/**
 * A router of a test config, not started. A second router (two routers on
 * one cluster) passes its own config file and name.
 */
export function routerProcess(tc: TestConfig, opts: ClusterOptions = {}, second?: { name: string; configPath: string }): ManagedProcess {
  const name = second?.name ?? 'router';
  const onLine = echo(name);
  return new ManagedProcess(routerSpec(second?.configPath ?? tc.routerPath, { ...childOptions(opts), name, ...(onLine ? { onLine } : {}) }));
}

/**
 * Starts every node of `tc` (in parallel), the proxies of proxied nodes, then
 * the router, and by default waits for the router's /readyz. On any start-up
 * failure everything already started is stopped before the error is thrown.
 */
export async function startCluster(tc: TestConfig, opts: ClusterOptions = {}): Promise<TestCluster> {
  const logs = process.env.TESSERA_TEST_LOGS === '1';
  const running = await launchCluster({
    configPath: tc.path,
    routerConfigPath: tc.routerPath,
    config: tc.config,
    proxies: tc.proxies,
    ...childOptions(opts),
    waitReady: opts.waitReady ?? true,
    readyTimeoutMs: opts.readyTimeoutMs ?? 20_000,
    ...(logs ? { onLine: (name: string, line: string) => process.stderr.write(`[${name}] ${line}\n`) } : {}),
  }).catch(async (err: unknown) => {
    if (opts.cleanup ?? true) await tc.cleanup();
    throw err;
  });
  const router = running.router as ManagedProcess & { url: string };
  Object.defineProperty(router, 'url', { value: tc.routerUrl });
  const clients = new Map<string, NodeClient>();
  const dispatcher = trustingAgent(tc.ca);

  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    await running.kill();
    await Promise.all([...clients.values()].map((c) => c.destroy().catch(() => {})));
    await dispatcher?.destroy().catch(() => {});
    if (opts.cleanup ?? true) await tc.cleanup();
  };

  const client = (nodeId: string) => {
    let c = clients.get(nodeId);
    if (!c) {
      const url = tc.nodeUrls[nodeId];
      if (!url) throw new Error(`unknown node ${nodeId}`);
      c = new NodeClient(url, tc.config.cluster.secret, { connections: 4, ...(tc.ca ? { ca: tc.ca } : {}) });
      clients.set(nodeId, c);
    }
    return c;
  };
  const all = () => [router, ...Object.values(running.nodes)];
  return {
    tc,
    nodes: running.nodes,
    router,
    proxies: running.proxies,
    client,
    nodeState: async (nodeId, timeoutMs = 2000) =>
      (await client(nodeId).json<NodeState>({ path: '/v1/_replication/state', timeoutMs })).body,
    clusterInfo: async () => {
      const res = await fetch(`${tc.routerUrl}/v1/_cluster`, { signal: AbortSignal.timeout(2000), ...(dispatcher ? { dispatcher } : {}) });
      const body = (await res.json()) as ClusterInfo;
      if (res.status !== 200) throw new Error(`GET /v1/_cluster answered ${res.status}: ${JSON.stringify(body)}`);
      return body;
    },
    unexpectedExits: () => all().flatMap((p) => p.unexpectedExits.map((e) => ({ name: p.name, ...e }))),
    shardNodes: (shard) => tc.config.shards[shard]?.nodes.map((n) => n.id) ?? [],
    dispose,
  };
}
