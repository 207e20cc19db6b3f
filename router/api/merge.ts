// Pure merges for scatter-gather (router/DESIGN.md "Reads and scatter-gather").
// Every shard answers its own slice in id order; the router merges by id, so
// a page across shards is ordered exactly as one store would order it.

export interface IdItem {
  id: string;
}

export interface ShardPage<T extends IdItem> {
  total: number;
  items: T[];
  /** The shard's own cursor: non-null when it holds more items after its last one. */
  next?: string | null;
}

export interface MergedPage<T> {
  total: number;
  items: T[];
  next: string | null;
}

const byId = (a: IdItem, b: IdItem) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * `_all_docs`: each shard was asked for `skip + limit` items after the same
 * `startAfter`; the merged page drops `skip`, keeps `limit`, and `next` is the
 * last id returned when anything follows it on any shard.
 */
export function mergeAllDocs<T extends IdItem>(pages: ReadonlyArray<ShardPage<T>>, skip: number, limit: number): MergedPage<T> {
  const merged = pages.flatMap((p) => p.items).sort(byId);
  const items = merged.slice(skip, skip + limit);
  const more = merged.length > skip + limit || pages.some((p) => p.next !== undefined && p.next !== null);
  return {
    total: pages.reduce((n, p) => n + p.total, 0),
    items,
    next: more && items.length > 0 ? items.at(-1)!.id : null,
  };
}

/** `_find/*`, `_search`: shards were asked for `skip + limit`; merged by id. */
export function mergeFound<T extends IdItem>(pages: ReadonlyArray<ShardPage<T>>, skip: number, limit: number): { total: number; items: T[] } {
  const merged = pages.flatMap((p) => p.items).sort(byId);
  return { total: pages.reduce((n, p) => n + p.total, 0), items: merged.slice(skip, skip + limit) };
}

/** `GET /v1/db/{db}` summed over shards; `seq` is the sum of shard seqs (a cluster-wide change counter). */
export function sumDbInfo(db: string, infos: ReadonlyArray<{ docCount: number; deletedCount: number; seq: number }>): {
  db: string; docCount: number; deletedCount: number; seq: number;
} {
  let docCount = 0;
  let deletedCount = 0;
  let seq = 0;
  for (const i of infos) {
    docCount += i.docCount;
    deletedCount += i.deletedCount;
    seq += i.seq;
  }
  return { db, docCount, deletedCount, seq };
}

/** `GET /v1/db`: union of every shard's list, sorted. */
export function unionDbs(lists: ReadonlyArray<ReadonlyArray<string>>): string[] {
  return [...new Set(lists.flat())].sort();
}

export interface Change {
  id: string;
  rev: string;
  deleted?: boolean;
  seq: number;
}

export interface ShardChanges {
  /** The node's results for seq in (since, until], ascending. */
  results: ReadonlyArray<Change>;
  since: number;
  until: number;
  /** The limit the shard was asked for. */
  requested: number;
}

/**
 * Takes up to `limit` changes round-robin across shards (so no shard starves)
 * and moves each shard's cursor past what was taken. A shard whose every
 * result was taken, and which returned less than it was asked for, has nothing
 * else up to `until`: its cursor jumps there.
 */
export function mergeChanges(shards: ReadonlyArray<ShardChanges>, limit: number): { results: Array<Omit<Change, 'seq'>>; cursor: number[] } {
  const taken = shards.map(() => 0);
  const results: Array<Omit<Change, 'seq'>> = [];
  let progress = true;
  while (results.length < limit && progress) {
    progress = false;
    for (let i = 0; i < shards.length && results.length < limit; i++) {
      const c = shards[i]!.results[taken[i]!];
      if (!c) continue;
      taken[i]!++;
      results.push(c.deleted ? { id: c.id, rev: c.rev, deleted: true } : { id: c.id, rev: c.rev });
      progress = true;
    }
  }
  const cursor = shards.map((s, i) => {
    const n = taken[i]!;
    if (n === s.results.length && s.results.length < s.requested) return Math.max(s.since, s.until);
    return n === 0 ? s.since : s.results[n - 1]!.seq;
  });
  return { results, cursor };
}
