import { renderTable, type Cell, type Column, type Style } from './table.ts';

// `tessera status`: GET /v1/_cluster as two tables. First one row per node
// (its columns only grow at the end, so scripts that cut by position keep
// working); then one row per shard: the commit point, whether writes are
// paused (a switchover in progress) and the shard's last election.

export interface ClusterNodeInfo {
  id: string;
  url?: string;
  role?: string | null;
  term?: number | null;
  lastSeq?: number | null;
  commitSeq?: number | null;
  lag?: number | null;
  lagMs?: number | null;
  health?: string | null;
  rollbackCount?: number | null;
}

/** What the router keeps of a shard's last election (router/failover/wiring.ts ElectionSummary). */
export interface ElectionInfo {
  at: string;
  reason: string;
  outcome: string;
  term: number | null;
  winner: string | null;
  durationMs: number;
  detail?: string;
}

export interface ClusterShardInfo {
  id: number;
  term?: number;
  primaryId?: string | null;
  commitSeq?: number;
  writesPaused?: boolean;
  lastElection?: ElectionInfo | null;
  nodes: ClusterNodeInfo[];
}

export interface ClusterInfo {
  shards: ClusterShardInfo[];
}

const HEALTH_STYLE: Record<string, Style> = { InSync: 'green', Lagging: 'yellow', CatchingUp: 'cyan', Offline: 'red' };
const OUTCOME_STYLE: Record<string, Style> = { elected: 'green', adopted: 'green', no_quorum: 'red', lost: 'yellow', target_behind: 'yellow', target_unreachable: 'yellow' };

const NODE_COLUMNS: Column[] = [
  { header: 'SHARD', align: 'right' },
  { header: 'NODE' },
  { header: 'ROLE' },
  { header: 'TERM', align: 'right' },
  { header: 'LASTSEQ', align: 'right' },
  { header: 'LAG', align: 'right' },
  { header: 'HEALTH' },
  { header: 'COMMITSEQ', align: 'right' },
  { header: 'ROLLBACKS', align: 'right' },
];

const SHARD_COLUMNS: Column[] = [
  { header: 'SHARD', align: 'right' },
  { header: 'TERM', align: 'right' },
  { header: 'PRIMARY' },
  { header: 'COMMIT', align: 'right' },
  { header: 'WRITES' },
  { header: 'LAST ELECTION' },
  { header: 'WHY' },
  { header: 'OUTCOME' },
  { header: 'WINNER' },
  { header: 'TOOK', align: 'right' },
];

const num = (v: number | null | undefined): string => (typeof v === 'number' && Number.isFinite(v) ? String(v) : '-');

/** Throws when the body is not shaped like a /v1/_cluster answer. */
export function asClusterInfo(body: unknown): ClusterInfo {
  const shards = (body as ClusterInfo | null)?.shards;
  if (!Array.isArray(shards) || !shards.every((s) => s && typeof s === 'object' && Array.isArray(s.nodes))) {
    throw new Error('unexpected /v1/_cluster answer: no shards[].nodes[]');
  }
  return body as ClusterInfo;
}

export function clusterRows(info: ClusterInfo): Cell[][] {
  const rows: Cell[][] = [];
  for (const shard of info.shards) {
    for (const node of shard.nodes) {
      const primary = node.role === 'primary' || node.id === shard.primaryId;
      rows.push([
        { text: String(shard.id) },
        { text: node.id, style: primary ? 'bold' : undefined },
        { text: node.role ?? '-', style: primary ? 'bold' : undefined },
        { text: num(node.term) },
        { text: num(node.lastSeq) },
        { text: num(node.lag) },
        { text: node.health ?? '-', style: HEALTH_STYLE[node.health ?? ''] },
        { text: num(node.commitSeq) },
        { text: num(node.rollbackCount), style: (node.rollbackCount ?? 0) > 0 ? 'yellow' : undefined },
      ]);
    }
  }
  return rows;
}

/** `2024-05-01T12:03:04.512Z` → `12:03:04Z (3m ago)`; the date only when it is not today's. */
export function formatWhen(iso: string, nowMs: number): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const d = new Date(t);
  const sameDay = d.toISOString().slice(0, 10) === new Date(nowMs).toISOString().slice(0, 10);
  const clock = `${sameDay ? '' : `${d.toISOString().slice(0, 10)} `}${d.toISOString().slice(11, 19)}Z`;
  return `${clock} (${formatAgo(nowMs - t)})`;
}

function formatAgo(ms: number): string {
  if (ms < 0) return 'just now';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export function shardRows(info: ClusterInfo, nowMs: number): Cell[][] {
  return info.shards.map((s) => {
    const e = s.lastElection ?? null;
    return [
      { text: String(s.id) },
      { text: num(s.term) },
      { text: s.primaryId ?? '-', style: s.primaryId ? 'bold' : 'red' },
      { text: num(s.commitSeq) },
      s.writesPaused ? { text: 'paused', style: 'yellow' } : { text: s.writesPaused === false ? 'open' : '-' },
      { text: e ? formatWhen(e.at, nowMs) : '-' },
      { text: e?.reason ?? '-' },
      { text: e?.outcome ?? '-', style: e ? OUTCOME_STYLE[e.outcome] : undefined },
      { text: e?.winner ?? '-' },
      { text: e ? `${e.durationMs} ms` : '-' },
    ];
  });
}

/** The node table, a blank line, the shard table. */
export function renderClusterTable(info: ClusterInfo, color: boolean, nowMs: number = Date.now()): string {
  return `${renderTable(NODE_COLUMNS, clusterRows(info), { color })}\n${renderTable(SHARD_COLUMNS, shardRows(info, nowMs), { color })}`;
}
