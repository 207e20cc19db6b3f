import { buildTree, diffTrees, leafCount } from '../../src/core/merkle.ts';
import { majority } from '../../src/rules/index.ts';

// Comparing the copies of one shard (router/VERIFY.md), as pure functions over
// what the nodes answered: trees first (which ranges differ), then the
// documents of those ranges (which documents, and what each copy holds).

/** A node's GET /v1/_replication/digest answer. */
export interface NodeDigest {
  nodeId: string;
  seq: number;
  term: number;
  lastSeq: number;
  depth: number;
  docs: number;
  dbs: string[];
  leaves: string[];
}

/** One document of a node's GET /v1/_replication/digest/docs answer. */
export interface DigestDoc {
  db: string;
  id: string;
  rev: string;
  deleted: boolean;
  hash: string;
  leaf: number;
}

/** What one copy holds of a divergent document (rev null: it has none at the seq). */
export interface Copy {
  node: string;
  rev: string | null;
  deleted?: boolean;
  hash: string | null;
  /** Same as the primary's copy. */
  same: boolean;
}

export interface Divergence {
  db: string;
  id: string;
  copies: Copy[];
  /**
   * A majority of the shard's nodes agree on a version other than the
   * primary's: the primary is likely the damaged copy, and repair (which
   * copies the primary's) refuses this document.
   */
  primaryOutvoted: boolean;
}

export interface DbDivergence {
  db: string;
  missingOn: string[];
  presentOn: string[];
}

/** Leaves where each replica's tree differs from the primary's, and how many tree nodes the walks compared. */
export function differingRanges(primary: NodeDigest, replicas: readonly NodeDigest[]): { byNode: Map<string, number[]>; union: number[]; compared: number } {
  const pTree = buildTree(primary.leaves);
  const byNode = new Map<string, number[]>();
  const union = new Set<number>();
  let compared = 0;
  for (const r of replicas) {
    const d = diffTrees(pTree, buildTree(r.leaves));
    compared += d.compared;
    byNode.set(r.nodeId, d.leaves);
    for (const l of d.leaves) union.add(l);
  }
  return { byNode, union: [...union].sort((a, b) => a - b), compared };
}

/** Documents in the tree: the sum of the leaf counts (equals `docs`). */
export function treeDocs(d: NodeDigest): number {
  return d.leaves.reduce((n, l) => n + leafCount(l), 0);
}

/**
 * The documents whose copies differ, from each compared node's documents in
 * the differing ranges. `docsByNode` must hold the primary and every node
 * compared (a node with no difference may be left out: it equals the primary).
 */
export function divergentDocs(primaryId: string, nodeIds: readonly string[], docsByNode: ReadonlyMap<string, readonly DigestDoc[]>, shardSize: number): Divergence[] {
  const primaryDocs = docsByNode.get(primaryId) ?? [];
  const key = (d: { db: string; id: string }) => `${d.db}\u0000${d.id}`;
  const indexed = new Map<string, Map<string, DigestDoc>>();
  for (const n of nodeIds) indexed.set(n, new Map((docsByNode.get(n) ?? primaryDocs).map((d) => [key(d), d])));
  const keys = new Set<string>();
  for (const docs of indexed.values()) for (const k of docs.keys()) keys.add(k);
  const out: Divergence[] = [];
  for (const k of [...keys].sort()) {
    const p = indexed.get(primaryId)!.get(k);
    const copies: Copy[] = nodeIds.map((n) => {
      const d = indexed.get(n)!.get(k);
      return { node: n, rev: d?.rev ?? null, ...(d?.deleted ? { deleted: true } : {}), hash: d?.hash ?? null, same: (d?.hash ?? null) === (p?.hash ?? null) };
    });
    if (copies.every((c) => c.same)) continue;
    const [db, id] = k.split('\u0000') as [string, string];
    const groups = new Map<string | null, number>();
    for (const c of copies) groups.set(c.hash, (groups.get(c.hash) ?? 0) + 1);
    const primaryHash = p?.hash ?? null;
    const primaryOutvoted = [...groups].some(([h, n]) => h !== primaryHash && n >= majority(shardSize));
    out.push({ db, id, copies, primaryOutvoted });
  }
  return out;
}

/** Databases some compared copies hold at the seq and others do not. */
export function divergentDbs(digests: readonly NodeDigest[]): DbDivergence[] {
  const all = new Set(digests.flatMap((d) => d.dbs));
  const out: DbDivergence[] = [];
  for (const db of [...all].sort()) {
    const missingOn = digests.filter((d) => !d.dbs.includes(db)).map((d) => d.nodeId);
    if (missingOn.length === 0) continue;
    out.push({ db, missingOn, presentOn: digests.filter((d) => d.dbs.includes(db)).map((d) => d.nodeId) });
  }
  return out;
}
