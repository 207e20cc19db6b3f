import { z } from 'zod';

// The config file format is a contract (DESIGN §3): extend it, never rename.
// Cross-field rules live in superRefine so every problem is reported by path.

const nodeId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'node id must match [A-Za-z0-9_.-]{1,64}');
const httpUrl = z.url({ protocol: /^https?$/ });

const NodeSchema = z.strictObject({
  id: nodeId,
  url: httpUrl,
});

const ShardSchema = z.strictObject({
  id: z.number().int().min(0),
  nodes: z.array(NodeSchema).min(1),
});

const ReplicationSchema = z.strictObject({
  writeQuorum: z.number().int().min(1).default(2),
  readQuorum: z.number().int().min(1).default(1),
  healthCheckIntervalMs: z.number().int().min(10).default(500),
  failoverTimeoutMs: z.number().int().min(50).default(1500),
  maxReplicationLagMs: z.number().int().min(0).default(10000),
  writeTimeoutMs: z.number().int().min(100).default(5000),
  walRetention: z.number().int().min(100).default(100000),
  allowUnsafeQuorum: z.boolean().default(false),
  /** Background anti-entropy pass over every shard (router/VERIFY.md); 0 = off. */
  antiEntropyIntervalMs: z.number().int().min(0).default(0),
});

export const ConfigSchema = z
  .strictObject({
    cluster: z.strictObject({
      name: z.string().min(1).default('tessera'),
      secret: z.string().min(1),
    }),
    router: z.strictObject({ url: httpUrl }),
    dataDir: z.string().min(1).default('./data'),
    replication: ReplicationSchema.default(ReplicationSchema.parse({})),
    limits: z.strictObject({
      maxDocBytes: z.number().int().min(1024).default(1048576),
    }).default({ maxDocBytes: 1048576 }),
    shards: z.array(ShardSchema).min(1),
  })
  .superRefine((cfg, ctx) => {
    const r = cfg.replication;
    cfg.shards.forEach((shard, i) => {
      if (shard.id !== i) {
        ctx.addIssue({ code: 'custom', path: ['shards', i, 'id'], message: `shard ids must be 0..n-1 in order: expected ${i}` });
      }
      const n = shard.nodes.length;
      if (r.writeQuorum > n) {
        ctx.addIssue({ code: 'custom', path: ['replication', 'writeQuorum'], message: `writeQuorum ${r.writeQuorum} exceeds the ${n} nodes of shard ${i}` });
      } else if (r.writeQuorum <= n / 2 && !r.allowUnsafeQuorum) {
        ctx.addIssue({
          code: 'custom',
          path: ['replication', 'writeQuorum'],
          message: `writeQuorum ${r.writeQuorum} is not a majority of the ${n} nodes of shard ${i}: failover could lose acknowledged writes (set allowUnsafeQuorum to accept this)`,
        });
      }
      if (r.readQuorum > n) {
        ctx.addIssue({ code: 'custom', path: ['replication', 'readQuorum'], message: `readQuorum ${r.readQuorum} exceeds the ${n} nodes of shard ${i}` });
      }
    });
    if (r.failoverTimeoutMs <= r.healthCheckIntervalMs) {
      ctx.addIssue({ code: 'custom', path: ['replication', 'failoverTimeoutMs'], message: 'failoverTimeoutMs must be greater than healthCheckIntervalMs' });
    }
    // Node ids and URLs identify processes: a duplicate would make two nodes one.
    const ids = new Map<string, string>();
    const urls = new Map<string, string>();
    // superRefine also runs when a field check failed: an invalid URL is already reported.
    try { urls.set(new URL(cfg.router.url).host, 'router.url'); } catch { /* reported by the url check */ }
    cfg.shards.forEach((shard, i) => shard.nodes.forEach((node, j) => {
      const where = `shards[${i}].nodes[${j}]`;
      const seenId = ids.get(node.id);
      if (seenId) ctx.addIssue({ code: 'custom', path: ['shards', i, 'nodes', j, 'id'], message: `duplicate node id (also ${seenId})` });
      ids.set(node.id, where);
      let host: string;
      try { host = new URL(node.url).host; } catch { return; }
      const seenUrl = urls.get(host);
      if (seenUrl) ctx.addIssue({ code: 'custom', path: ['shards', i, 'nodes', j, 'url'], message: `duplicate host:port (also ${seenUrl})` });
      urls.set(host, where);
    }));
  });

export type Config = z.infer<typeof ConfigSchema>;
export type ShardConfig = Config['shards'][number];
export type NodeConfig = ShardConfig['nodes'][number];
export type ReplicationConfig = Config['replication'];
