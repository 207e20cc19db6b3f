import type { Config, NodeConfig, ShardConfig } from './schema.ts';

/** The node with this id and its shard, or undefined. */
export function findNode(cfg: Readonly<Config>, nodeId: string): { shard: ShardConfig; node: NodeConfig } | undefined {
  for (const shard of cfg.shards) {
    const node = shard.nodes.find((n) => n.id === nodeId);
    if (node) return { shard, node };
  }
  return undefined;
}

/** Resolved certificate paths of one process. */
export interface TlsPaths {
  cert: string;
  key: string;
  ca: string;
}

/** The TLS files of the router or a node (its own cert/key, else the defaults), or null without TLS. */
export function tlsFor(cfg: Readonly<Config>, who: 'router' | { nodeId: string }): TlsPaths | null {
  if (!cfg.tls) return null;
  const own = who === 'router' ? cfg.router.tls : findNode(cfg, who.nodeId)?.node.tls;
  const cert = own?.cert ?? cfg.tls.cert;
  const key = own?.key ?? cfg.tls.key;
  // The schema guarantees both (checkTls); a missing one here is a bug.
  if (cert === undefined || key === undefined) throw new Error('invariant: a TLS process without cert or key');
  return { cert, key, ca: cfg.tls.ca };
}
