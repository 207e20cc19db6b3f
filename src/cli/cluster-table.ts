import { renderTable, type Cell, type Column, type Style } from './table.ts';

// `tessera status`: GET /v1/_cluster as a table, one row per node.

export interface ClusterNodeInfo {
  id: string;
  url?: string;
  role?: string | null;
  term?: number | null;
  lastSeq?: number | null;
  commitSeq?: number | null;
  lag?: number | null;
  health?: string | null;
  rollbackCount?: number | null;
}

export interface ClusterInfo {
  shards: Array<{ id: number; term?: number; primaryId?: string | null; commitSeq?: number; nodes: ClusterNodeInfo[] }>;
}

const HEALTH_STYLE: Record<string, Style> = { InSync: 'green', Lagging: 'yellow', CatchingUp: 'cyan', Offline: 'red' };

const COLUMNS: Column[] = [
  { header: 'SHARD', align: 'right' },
  { header: 'NODE' },
  { header: 'ROLE' },
  { header: 'TERM', align: 'right' },
  { header: 'LASTSEQ', align: 'right' },
  { header: 'LAG', align: 'right' },
  { header: 'HEALTH' },
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
      ]);
    }
  }
  return rows;
}

export function renderClusterTable(info: ClusterInfo, color: boolean): string {
  return renderTable(COLUMNS, clusterRows(info), { color });
}
