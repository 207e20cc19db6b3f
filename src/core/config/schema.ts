import { z } from 'zod';

// The config file format is a contract (DESIGN §3): extend it, never rename.
// Cross-field rules live in superRefine so every problem is reported by path.

const nodeId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'node id must match [A-Za-z0-9_.-]{1,64}');
const httpUrl = z.url({ protocol: /^https?$/ });
const path = z.string().min(1);

/** A process's own certificate and key (PEM files; relative paths resolve against the config's folder). */
const TlsFilesSchema = z.strictObject({ cert: path, key: path });

/** Top-level `tls`: every process's default cert/key, and the CA that signed them (contract, DESIGN §3). */
const TlsSchema = z.strictObject({ cert: path.optional(), key: path.optional(), ca: path });

const NodeSchema = z.strictObject({
  id: nodeId,
  url: httpUrl,
  tls: TlsFilesSchema.optional(),
});

export const ROLES = ['read', 'readwrite', 'admin'] as const;

/** A client of the router's API (contract, DESIGN §3): its token is known only by its SHA-256. */
const UserSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'user name must match [A-Za-z0-9_.@-]{1,64}'),
  tokenSha256: z.string().regex(/^[0-9a-f]{64}$/, 'tokenSha256 must be 64 lower-case hex digits (tessera token prints it)'),
  role: z.enum(ROLES),
  /** Databases the user may use; all when absent. */
  dbs: z.array(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'db names match [a-z][a-z0-9_-]{0,63}')).min(1).optional(),
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
    router: z.strictObject({ url: httpUrl, tls: TlsFilesSchema.optional() }),
    auth: z.strictObject({ users: z.array(UserSchema).min(1) }).optional(),
    tls: TlsSchema.optional(),
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
    checkTls(cfg, ctx);
    const names = new Set<string>();
    const hashes = new Set<string>();
    cfg.auth?.users.forEach((u, i) => {
      if (names.has(u.name)) ctx.addIssue({ code: 'custom', path: ['auth', 'users', i, 'name'], message: `duplicate user name ${u.name}` });
      if (hashes.has(u.tokenSha256)) ctx.addIssue({ code: 'custom', path: ['auth', 'users', i, 'tokenSha256'], message: 'two users share one token' });
      names.add(u.name);
      hashes.add(u.tokenSha256);
    });
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

type RawParsed = {
  router: { url: string; tls?: { cert: string; key: string } | undefined };
  tls?: { cert?: string | undefined; key?: string | undefined; ca: string } | undefined;
  shards: Array<{ nodes: Array<{ url: string; tls?: { cert: string; key: string } | undefined }> }>;
};

/**
 * TLS is all or nothing: with a top-level `tls` block every URL is https and
 * every process has a cert and key (its own or the default); without it every
 * URL is http and no process has one. A mix would leave some link in clear.
 */
function checkTls(cfg: RawParsed, ctx: z.RefinementCtx): void {
  const processes: Array<{ where: Array<string | number>; url: string; own: unknown }> = [
    { where: ['router'], url: cfg.router.url, own: cfg.router.tls },
    ...cfg.shards.flatMap((s, i) => s.nodes.map((n, j) => ({ where: ['shards', i, 'nodes', j], url: n.url, own: n.tls }))),
  ];
  const defaults = cfg.tls?.cert !== undefined && cfg.tls.key !== undefined;
  if (cfg.tls && (cfg.tls.cert === undefined) !== (cfg.tls.key === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls.cert and tls.key go together' });
  }
  for (const p of processes) {
    let scheme: string;
    try { scheme = new URL(p.url).protocol; } catch { continue; }
    if (cfg.tls) {
      if (scheme !== 'https:') ctx.addIssue({ code: 'custom', path: [...p.where, 'url'], message: 'with a tls block every URL must be https:// (mixing http and https is not allowed)' });
      if (!p.own && !defaults) ctx.addIssue({ code: 'custom', path: [...p.where, 'tls'], message: 'no certificate: give this process tls {cert, key} or set tls.cert and tls.key' });
    } else {
      if (scheme !== 'http:') ctx.addIssue({ code: 'custom', path: [...p.where, 'url'], message: 'an https:// URL needs the top-level tls block (cert, key, ca)' });
      if (p.own) ctx.addIssue({ code: 'custom', path: [...p.where, 'tls'], message: 'a per-process tls block needs the top-level tls block (ca)' });
    }
  }
}

export type Config = z.infer<typeof ConfigSchema>;
export type UserConfig = NonNullable<Config['auth']>['users'][number];
export type Role = UserConfig['role'];
export type ShardConfig = Config['shards'][number];
export type NodeConfig = ShardConfig['nodes'][number];
export type ReplicationConfig = Config['replication'];
