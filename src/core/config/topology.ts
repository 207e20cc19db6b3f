import type { Config, NodeConfig, ShardConfig } from './schema.ts';

/** The node with this id and its shard, or undefined. */
export function findNode(cfg: Readonly<Config>, nodeId: string): { shard: ShardConfig; node: NodeConfig } | undefined {
  for (const shard of cfg.shards) {
    const node = shard.nodes.find((n) => n.id === nodeId);
    if (node) return { shard, node };
  }
  return undefined;
}
