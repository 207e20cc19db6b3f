import type { Config, ReplicationConfig } from './index.ts';

// Generated cluster configs (the test harness and the bench script build
// throw-away clusters on free ports). Plain data in, the config file's JSON
// shape out; the result still goes through parseConfig before use.

export type RawConfig = {
  cluster: { name: string; secret: string };
  router: { url: string };
  dataDir: string;
  replication: Partial<ReplicationConfig>;
  limits: { maxDocBytes?: number };
  shards: Array<{ id: number; nodes: Array<{ id: string; url: string }> }>;
};

export interface TopologySpec {
  name?: string;
  secret: string;
  routerPort: number;
  /** One port per node, shard-major: shard 0's nodes, then shard 1's, ... */
  nodePorts: number[];
  shards: number;
  nodesPerShard: number;
  dataDir: string;
  host?: string;
  replication?: Partial<ReplicationConfig>;
  limits?: Partial<Config['limits']>;
}

/** `s0a`, `s0b`, ... `s2c`: shard number then a letter per node (the local.json style). */
export function nodeIdFor(shard: number, index: number): string {
  if (index < 0 || index >= 26) throw new RangeError(`node index ${index} out of range 0..25`);
  return `s${shard}${String.fromCharCode(97 + index)}`;
}

export function buildConfig(spec: TopologySpec): RawConfig {
  const host = spec.host ?? '127.0.0.1';
  if (spec.nodePorts.length < spec.shards * spec.nodesPerShard) {
    throw new RangeError(`need ${spec.shards * spec.nodesPerShard} node ports, got ${spec.nodePorts.length}`);
  }
  const shards = Array.from({ length: spec.shards }, (_, s) => ({
    id: s,
    nodes: Array.from({ length: spec.nodesPerShard }, (_, n) => ({
      id: nodeIdFor(s, n),
      url: `http://${host}:${spec.nodePorts[s * spec.nodesPerShard + n]}`,
    })),
  }));
  return {
    cluster: { name: spec.name ?? 'tessera', secret: spec.secret },
    router: { url: `http://${host}:${spec.routerPort}` },
    dataDir: spec.dataDir,
    replication: { ...spec.replication },
    limits: { ...spec.limits },
    shards,
  };
}

/**
 * The router's copy of a config in which the router reaches some nodes
 * through TCP proxies (tests and `tessera chaos` cut links there): those
 * nodes' URLs point at `127.0.0.1:<proxy port>`; the nodes themselves keep
 * listening on their own URL in the original config.
 */
export function withProxiedNodes(raw: RawConfig, proxyPorts: Readonly<Record<string, number>>): RawConfig {
  const copy = structuredClone(raw);
  for (const shard of copy.shards) {
    for (const node of shard.nodes) {
      const port = proxyPorts[node.id];
      if (port !== undefined) node.url = `http://127.0.0.1:${port}`;
    }
  }
  return copy;
}
