import type { Config } from '../core/config/index.ts';
import { majority } from '../rules/index.ts';
import { renderTable } from './table.ts';

/** What `check-config` prints for a valid config. Pure; never includes the secret. */
export function describeTopology(cfg: Readonly<Config>): string {
  const r = cfg.replication;
  const lines = [
    `cluster ${cfg.cluster.name}: router ${cfg.router.url}, ${cfg.shards.length} shard(s), data in ${cfg.dataDir}`,
    `replication: writeQuorum ${r.writeQuorum}, readQuorum ${r.readQuorum}, healthCheckIntervalMs ${r.healthCheckIntervalMs}, ` +
      `failoverTimeoutMs ${r.failoverTimeoutMs}, writeTimeoutMs ${r.writeTimeoutMs}, maxReplicationLagMs ${r.maxReplicationLagMs}, walRetention ${r.walRetention}`,
    `limits: maxDocBytes ${cfg.limits.maxDocBytes}`,
  ];
  const unsafe = cfg.shards.filter((s) => r.writeQuorum < majority(s.nodes.length)).map((s) => s.id);
  if (unsafe.length > 0) lines.push(`WARNING: allowUnsafeQuorum: writeQuorum ${r.writeQuorum} is not a majority of shard(s) ${unsafe.join(', ')}; a failover there can lose acknowledged writes`);
  const rows = cfg.shards.flatMap((s) => s.nodes.map((n, i) => [String(s.id), n.id, n.url, i === 0 ? 'primary (initial)' : 'replica']));
  return `${lines.join('\n')}\n\n${renderTable([{ header: 'SHARD', align: 'right' }, { header: 'NODE' }, { header: 'URL' }, { header: 'ROLE AT START' }], rows)}`;
}
