import { shardFor } from '../core/hash.ts';

// Pure pieces of scripts/failover-test.ts: picking ids on the shard under
// test, reading the /v1/_cluster answer, and the read-back verdict.

export interface ShardInfo {
  id: number;
  term: number;
  primaryId: string | null;
  commitSeq?: number;
  nodes: Array<{ id: string; url?: string; role?: string | null; term?: number | null; lastSeq?: number | null; health?: string | null }>;
}

/** Endless ids `<prefix>-<n>` that hash to `shard` (DESIGN §5.3 placement). */
export function* idsOnShard(prefix: string, shard: number, shardCount: number): Generator<string> {
  for (let n = 0; ; n++) {
    const id = `${prefix}-${n}`;
    if (shardFor(id, shardCount) === shard) yield id;
  }
}

export function findShard(body: unknown, shard: number): ShardInfo | undefined {
  const shards = (body as { shards?: ShardInfo[] } | null)?.shards;
  return Array.isArray(shards) ? shards.find((s) => s.id === shard) : undefined;
}

/** A different node is primary at a higher term than before the kill. */
export function newPrimaryElected(before: { primaryId: string; term: number }, now: ShardInfo | undefined): boolean {
  return !!now && now.primaryId !== null && now.primaryId !== before.primaryId && now.term > before.term;
}

/** The node is back as an in-sync replica of the shard's current term. */
export function rejoinedAsReplica(now: ShardInfo | undefined, nodeId: string): boolean {
  const n = now?.nodes.find((x) => x.id === nodeId);
  return !!now && !!n && now.primaryId !== nodeId && n.role === 'replica' && n.term === now.term && n.health === 'InSync';
}

/** Every node of the shard reports the same lastSeq (and it is known). */
export function shardConverged(now: ShardInfo | undefined): boolean {
  if (!now || now.nodes.length === 0) return false;
  const seqs = now.nodes.map((n) => n.lastSeq);
  return seqs.every((s) => typeof s === 'number' && s === seqs[0]);
}

export interface ReadBack {
  status: number;
  rev?: string;
}

/** One line per acknowledged write that is missing or has another revision. */
export function readBackViolations(acked: ReadonlyMap<string, string>, read: ReadonlyMap<string, ReadBack>, where: string): string[] {
  const out: string[] = [];
  for (const [id, rev] of acked) {
    const r = read.get(id);
    if (!r) out.push(`${where}: ${id} was not read back`);
    else if (r.status !== 200) out.push(`${where}: ${id} acknowledged as ${rev} but GET answered ${r.status}`);
    else if (r.rev !== rev) out.push(`${where}: ${id} acknowledged as ${rev} but has rev ${r.rev}`);
  }
  return out;
}

/**
 * How long writes were unavailable: from the kill to the start of the first
 * write that was sent after the kill and succeeded. null if none succeeded.
 */
export function unavailabilityMs(killAtMs: number, writes: ReadonlyArray<{ startMs: number; ok: boolean }>): number | null {
  let first: number | null = null;
  for (const w of writes) if (w.ok && w.startMs >= killAtMs && (first === null || w.startMs < first)) first = w.startMs;
  return first === null ? null : first - killAtMs;
}
