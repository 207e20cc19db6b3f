import { renderTable, type Cell, type Column } from './table.ts';

// `tessera verify`: the router's verify/repair answers (router/verify/) as
// text. Pure, so the wording is tested without a cluster.

export interface CopyInfo { node: string; rev: string | null; deleted?: boolean; hash: string | null; same: boolean }
export interface DivergenceInfo { db: string; id: string; copies: CopyInfo[]; primaryOutvoted: boolean }
export interface NodeInfo { id: string; role: string; status: string; docs?: number; differingRanges?: number; detail?: string }
export interface ShardReport {
  shard: number; seq: number; term: number; primaryId: string; depth: number; consistent: boolean; complete: boolean;
  nodes: NodeInfo[]; divergent: DivergenceInfo[]; dbs: Array<{ db: string; missingOn: string[]; presentOn: string[] }>;
  treeNodesCompared: number; ms: number;
}
export interface RepairInfo { db: string; id: string; outcome: 'repaired' | 'refused' | 'failed'; seq?: number; acks?: number; detail?: string }

/** Exit status of one shard's report: 0 equal, 1 divergent, 3 some copy not compared (and nothing divergent among the rest). */
export function reportExit(r: ShardReport): 0 | 1 | 3 {
  if (r.divergent.length > 0 || r.dbs.length > 0) return 1;
  return r.complete ? 0 : 3;
}

const short = (rev: string | null) => (rev === null ? '-' : rev.replace(/^(\d+-[0-9a-f]{8})[0-9a-f]*$/, '$1'));

function copyState(c: CopyInfo, primary: CopyInfo | undefined, isPrimary: boolean): string {
  if (isPrimary) return c.rev === null ? 'primary (has none)' : 'primary';
  if (c.same) return 'same';
  if (c.rev === null) return 'missing';
  if (primary?.rev === null) return 'extra (the primary has none)';
  if (c.rev === primary?.rev) return 'DIFFERS: same rev, other content';
  return 'DIFFERS: other rev';
}

const COLUMNS: Column[] = [{ header: 'DB' }, { header: 'ID' }, { header: 'NODE' }, { header: 'REV' }, { header: 'COPY' }];

export function formatShardReport(r: ShardReport): string {
  const compared = r.nodes.filter((n) => n.status === 'compared');
  const head = `shard ${r.shard} at seq ${r.seq} (term ${r.term}, primary ${r.primaryId}): ${compared.length} of ${r.nodes.length} copies compared`;
  const docs = compared.find((n) => n.id === r.primaryId)?.docs ?? 0;
  const lines: string[] = [];
  if (r.divergent.length === 0 && r.dbs.length === 0) {
    lines.push(`${head}, all equal (${docs} documents, ${2 ** r.depth} ranges, ${r.ms} ms)`);
  } else {
    lines.push(`${head}: ${r.divergent.length} document${r.divergent.length === 1 ? '' : 's'} differ${r.divergent.length === 1 ? 's' : ''}${r.dbs.length ? `, ${r.dbs.length} database${r.dbs.length === 1 ? '' : 's'}` : ''} (${r.treeNodesCompared} tree nodes walked, ${r.ms} ms)`);
  }
  for (const n of r.nodes) {
    if (n.status !== 'compared') lines.push(`  ${n.id}: not compared (${n.status}${n.detail ? `: ${n.detail}` : ''})`);
  }
  for (const d of r.dbs) lines.push(`  database ${d.db}: on ${d.presentOn.join(', ')}, missing on ${d.missingOn.join(', ')}`);
  if (r.divergent.length > 0) {
    const rows: Cell[][] = [];
    for (const d of r.divergent) {
      const primary = d.copies.find((c) => c.node === r.primaryId);
      d.copies.forEach((c, i) => {
        const state = copyState(c, primary, c.node === r.primaryId);
        rows.push([
          { text: i === 0 ? d.db : '' }, { text: i === 0 ? d.id : '' }, { text: c.node }, { text: short(c.rev) + (c.deleted ? ' (deleted)' : '') },
          { text: state, style: state.startsWith('DIFFERS') || state === 'missing' || state.startsWith('extra') ? 'red' : undefined },
        ]);
      });
      if (d.primaryOutvoted) rows.push([{ text: '' }, { text: '' }, { text: '' }, { text: '' }, { text: 'a majority of copies disagrees with the primary: repair will refuse it' }]);
    }
    lines.push(renderTable(COLUMNS, rows).trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
  }
  return `${lines.join('\n')}\n`;
}

export function formatRepairs(shard: number, repairs: readonly RepairInfo[]): string {
  if (repairs.length === 0) return '';
  return `${repairs.map((r) => {
    if (r.outcome === 'repaired') return `shard ${shard}: repaired ${r.db}/${r.id} with log entry seq ${r.seq} (durable on ${r.acks} copies)`;
    return `shard ${shard}: ${r.outcome === 'refused' ? 'did not repair' : 'repair FAILED for'} ${r.db}/${r.id}: ${r.detail ?? ''}`;
  }).join('\n')}\n`;
}
