import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config, type ReplicationConfig } from '../../src/core/config/index.ts';
import { buildConfig, withProxiedNodes, type RawConfig } from '../../src/core/config/template.ts';
import { freePorts } from '../../src/launch/free-ports.ts';
import { makeCerts } from '../../src/cli/certs.ts';

/**
 * Replication settings for tests: the DESIGN defaults, made faster so fault
 * tests finish quickly (writes time out after 1.5 s, failure detection after
 * 1 s). Override per test through `overrides.replication`.
 */
export const TEST_REPLICATION: Partial<ReplicationConfig> = {
  healthCheckIntervalMs: 200,
  failoverTimeoutMs: 1000,
  writeTimeoutMs: 1500,
};

export const TEST_SECRET = 'test-secret';

export interface TestConfigOptions {
  shards?: number;
  nodesPerShard?: number;
  /** Merged section by section over the generated config. */
  overrides?: {
    cluster?: Partial<RawConfig['cluster']>;
    replication?: Partial<ReplicationConfig>;
    limits?: Partial<Config['limits']>;
  };
  /**
   * Node ids the router reaches through a TCP proxy (see startCluster). The
   * nodes listen on their config URL; the router gets its own config file in
   * which these nodes' URLs point at the proxy port instead.
   */
  proxied?: string[];
  /** Every link on HTTPS: `tessera certs` makes a CA and a certificate per process (tc.path is then its config). */
  tls?: boolean;
  /** Merged at the top level of the generated config (e.g. `auth`). */
  extra?: Record<string, unknown>;
}

export interface TestConfig {
  /** Temp folder holding the config files and the data dir. */
  dir: string;
  /** Config file the nodes (and scripts) use. */
  path: string;
  /** Config file the router uses: same as `path` unless nodes are proxied. */
  routerPath: string;
  /** The config as written to `path` (raw JSON shape). */
  raw: RawConfig;
  /** `path` parsed and validated (as the processes will see it). */
  config: Readonly<Config>;
  dataDir: string;
  routerUrl: string;
  nodeIds: string[];
  /** nodeId → its URL as the nodes listen on it. */
  nodeUrls: Record<string, string>;
  /** nodeId → { proxy port the router uses, the node's real port }. */
  proxies: Record<string, { listenPort: number; targetPort: number }>;
  /** The cluster CA (PEM) when `tls`. */
  ca?: Buffer;
  /** Removes the temp folder (data included). */
  cleanup(): Promise<void>;
}

/** Writes a cluster config on free loopback ports with a fresh temp data dir. */
export async function writeTestConfig(opts: TestConfigOptions = {}): Promise<TestConfig> {
  const shards = opts.shards ?? 1;
  const nodesPerShard = opts.nodesPerShard ?? 3;
  const proxied = opts.proxied ?? [];
  const nodeCount = shards * nodesPerShard;
  const ports = await freePorts(1 + nodeCount + proxied.length);
  const dir = await mkdtemp(join(tmpdir(), 'tessera-test-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const raw = buildConfig({
      name: 'test',
      secret: TEST_SECRET,
      routerPort: ports[0]!,
      nodePorts: ports.slice(1, 1 + nodeCount),
      shards,
      nodesPerShard,
      dataDir: join(dir, 'data'),
      replication: { ...TEST_REPLICATION, ...opts.overrides?.replication },
      limits: { ...opts.overrides?.limits },
    });
    Object.assign(raw.cluster, opts.overrides?.cluster);
    Object.assign(raw, opts.extra);

    const nodeUrls: Record<string, string> = {};
    for (const shard of raw.shards) for (const node of shard.nodes) nodeUrls[node.id] = node.url;
    const proxies: TestConfig['proxies'] = {};
    proxied.forEach((id, i) => {
      const url = nodeUrls[id];
      if (!url) throw new Error(`proxied node ${id} is not in the config (nodes: ${Object.keys(nodeUrls).join(', ')})`);
      proxies[id] = { listenPort: ports[1 + nodeCount + i]!, targetPort: Number(new URL(url).port) };
    });

    let path = join(dir, 'config.json');
    await writeFile(path, `${JSON.stringify(raw, null, 2)}\n`);
    let ca: Buffer | undefined;
    if (opts.tls) {
      if (proxied.length > 0) throw new Error('tls with proxied nodes is not supported by the harness');
      const certs = makeCerts(raw as unknown as Record<string, unknown>, dir, join(dir, 'tls'));
      path = certs.configPath;
      ca = await readFile(certs.ca);
      for (const shard of raw.shards) for (const node of shard.nodes) nodeUrls[node.id] = node.url.replace(/^http:/, 'https:');
    }
    let routerPath = path;
    if (proxied.length > 0) {
      const routerRaw = withProxiedNodes(raw, Object.fromEntries(Object.entries(proxies).map(([id, p]) => [id, p.listenPort])));
      routerPath = join(dir, 'router-config.json');
      await writeFile(routerPath, `${JSON.stringify(routerRaw, null, 2)}\n`);
    }
    const config = loadConfig(path, {});
    return { dir, path, routerPath, raw, config, dataDir: raw.dataDir, routerUrl: config.router.url, nodeIds: Object.keys(nodeUrls), nodeUrls, proxies, ...(ca ? { ca } : {}), cleanup };
  } catch (err) {
    // An invalid config (e.g. overrides that break a rule) must not leak the temp folder.
    await cleanup();
    throw err;
  }
}
