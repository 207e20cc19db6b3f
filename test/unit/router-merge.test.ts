import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../router/api/changes-cursor.ts';
import { mergeAllDocs, mergeChanges, mergeFound, sumDbInfo, unionDbs, type Change, type ShardPage } from '../../router/api/merge.ts';
import { TesseraError } from '../../src/core/errors.ts';

/** One shard answering _all_docs like a node: ids after `startAfter`, in order, `limit` of them, `next` when more. */
function shardPage(ids: string[], startAfter: string | undefined, limit: number): ShardPage<{ id: string }> {
  const after = ids.filter((id) => startAfter === undefined || id > startAfter).sort();
  const items = after.slice(0, limit).map((id) => ({ id }));
  return { total: ids.length, items, next: after.length > limit ? items.at(-1)!.id : null };
}

const idArb = fc.stringMatching(/^[A-Za-z0-9_.~-]{1,6}$/);

describe('mergeAllDocs', () => {
  it('paging through merged pages returns every id once, in order (1000 random clusters)', () => {
    const cluster = fc.uniqueArray(idArb, { maxLength: 60 }).chain((ids) => fc.tuple(
      fc.constant(ids),
      fc.array(fc.integer({ min: 0, max: 2 }), { minLength: ids.length, maxLength: ids.length }),
      fc.integer({ min: 1, max: 9 }),
    ));
    fc.assert(fc.property(cluster, ([ids, placement, limit]) => {
      const shards = [0, 1, 2].map((s) => ids.filter((_, i) => placement[i] === s));
      const seen: string[] = [];
      let next: string | undefined;
      for (let page = 0; page <= ids.length + 1; page++) {
        const merged = mergeAllDocs(shards.map((s) => shardPage(s, next, limit)), 0, limit);
        expect(merged.total).toBe(ids.length);
        expect(merged.items.length).toBeLessThanOrEqual(limit);
        seen.push(...merged.items.map((d) => d.id));
        if (merged.next === null) break;
        next = merged.next;
      }
      expect(seen).toEqual([...ids].sort());
    }), { numRuns: 1000 });
  });

  it('drops skip after merging, and says null at the end', () => {
    const pages = [shardPage(['a', 'd'], undefined, 3), shardPage(['b', 'e'], undefined, 3), shardPage(['c'], undefined, 3)];
    expect(mergeAllDocs(pages, 1, 2)).toEqual({ total: 5, items: [{ id: 'b' }, { id: 'c' }], next: 'c' });
    expect(mergeAllDocs(pages, 3, 2)).toEqual({ total: 5, items: [{ id: 'd' }, { id: 'e' }], next: null });
    expect(mergeAllDocs(pages, 9, 2)).toEqual({ total: 5, items: [], next: null });
  });

  it('has a next when a shard holds more even if the merged window is exactly full', () => {
    const pages = [shardPage(['a', 'b', 'c'], undefined, 2), shardPage([], undefined, 2)];
    expect(mergeAllDocs(pages, 0, 2).next).toBe('b');
  });
});

describe('other merges', () => {
  it('mergeFound sums totals and orders by id', () => {
    expect(mergeFound([{ total: 4, items: [{ id: 'b' }, { id: 'd' }] }, { total: 1, items: [{ id: 'a' }] }], 1, 2))
      .toEqual({ total: 5, items: [{ id: 'b' }, { id: 'd' }] });
  });
  it('sums db info and unions db lists', () => {
    expect(sumDbInfo('x', [{ docCount: 2, deletedCount: 1, seq: 10 }, { docCount: 3, deletedCount: 0, seq: 7 }]))
      .toEqual({ db: 'x', docCount: 5, deletedCount: 1, seq: 17 });
    expect(unionDbs([['b', 'a'], ['a', 'c'], []])).toEqual(['a', 'b', 'c']);
  });
});

const change = (id: string, seq: number, deleted = false): Change => ({ id, rev: `1-${id}`, seq, ...(deleted ? { deleted: true } : {}) });

describe('mergeChanges', () => {
  it('takes round-robin up to the limit and moves each cursor past what it took', () => {
    const shards = [
      { results: [change('a', 3), change('b', 5), change('c', 9)], since: 2, until: 9, requested: 3 },
      { results: [change('x', 4, true)], since: 0, until: 6, requested: 3 },
      { results: [], since: 7, until: 7, requested: 3 },
    ];
    const r = mergeChanges(shards, 3);
    expect(r.results).toEqual([{ id: 'a', rev: '1-a' }, { id: 'x', rev: '1-x', deleted: true }, { id: 'b', rev: '1-b' }]);
    // shard 0 stopped at b (5); shard 1 gave everything up to until (6); shard 2 unchanged.
    expect(r.cursor).toEqual([5, 6, 7]);
  });

  it('never skips a change across consecutive calls (500 random feeds)', () => {
    const feeds = fc.array(fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 20 }), { minLength: 1, maxLength: 4 });
    fc.assert(fc.property(feeds, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), (gapsPerShard, limit, requested) => {
      // Each shard: changes at increasing seqs; `until` = the last seq (all committed).
      const logs = gapsPerShard.map((gaps, s) => {
        let seq = 0;
        return gaps.map((g, i) => change(`s${s}-${i}`, (seq += g)));
      });
      let cursor = logs.map(() => 0);
      const seen: string[] = [];
      for (let round = 0; round < 200; round++) {
        const shards = logs.map((log, s) => {
          const until = log.at(-1)?.seq ?? 0;
          return { results: log.filter((c) => c.seq > cursor[s]! && c.seq <= until).slice(0, requested), since: cursor[s]!, until, requested };
        });
        const r = mergeChanges(shards, limit);
        seen.push(...r.results.map((c) => c.id));
        cursor = r.cursor;
        if (r.results.length === 0) break;
      }
      expect(seen.sort()).toEqual(logs.flat().map((c) => c.id).sort());
    }), { numRuns: 500 });
  });
});

describe('changes cursor', () => {
  it('round-trips one seq per shard as an opaque base64url string', () => {
    fc.assert(fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), (seqs) => {
      const c = encodeCursor(seqs);
      expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(c, seqs.length)).toEqual(seqs);
    }));
  });
  it('starts from zero without a cursor or with "0"', () => {
    expect(decodeCursor(undefined, 3)).toEqual([0, 0, 0]);
    expect(decodeCursor('0', 2)).toEqual([0, 0]);
  });
  it('refuses garbage and cursors of another shard count with 400', () => {
    for (const bad of ['%%%', encodeCursor([1, 2]), Buffer.from('{"a":1}').toString('base64url'), encodeCursor([-1, 0, 0])]) {
      expect(() => decodeCursor(bad, 3)).toThrow(TesseraError);
      try { decodeCursor(bad, 3); } catch (e) { expect((e as TesseraError).status).toBe(400); }
    }
  });
});
