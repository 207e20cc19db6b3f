import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildTree, diffTrees, docHash, docToken, LeafAccumulator, leafCount, leafOf } from '../../../src/core/merkle.ts';
import { differingRanges, divergentDbs, divergentDocs, type DigestDoc, type NodeDigest } from '../../../router/verify/compare.ts';

// The anti-entropy tree (src/core/merkle.ts) and the router's comparison
// (router/verify/compare.ts): the diff must find exactly the ranges where two
// copies differ — checked against a naive leaf-by-leaf twin — and the
// comparison must name what each copy holds.

function digestOf(nodeId: string, docs: Array<[string, string, unknown]>, depth = 6): NodeDigest {
  const acc = new LeafAccumulator(depth);
  for (const [db, id, body] of docs) acc.add(leafOf(docToken(db, id), depth), docHash(db, body));
  return { nodeId, seq: 10, term: 1, lastSeq: 10, depth, docs: docs.length, dbs: ['a'], leaves: acc.leaves() };
}

describe('merkle', () => {
  it('hashes the canonical body: key order does not matter, content does, the db does', () => {
    expect(docHash('a', { id: 'x', data: { p: 1, q: 2 } })).toEqual(docHash('a', { data: { q: 2, p: 1 }, id: 'x' }));
    expect(docHash('a', { id: 'x', data: { p: 1 } })).not.toEqual(docHash('a', { id: 'x', data: { p: 2 } }));
    expect(docHash('a', { id: 'x', data: {} })).not.toEqual(docHash('b', { id: 'x', data: {} }));
  });

  it('leaves are order-free and count their documents', () => {
    const a = digestOf('a', [['a', 'x', { v: 1 }], ['a', 'y', { v: 2 }]]);
    const b = digestOf('b', [['a', 'y', { v: 2 }], ['a', 'x', { v: 1 }]]);
    expect(b.leaves).toEqual(a.leaves);
    expect(a.leaves.reduce((n, l) => n + leafCount(l), 0)).toBe(2);
    expect(buildTree(a.leaves)[0]).toEqual(buildTree(b.leaves)[0]);
  });

  it('refuses a depth outside 0..16 and a leaf count that is not a power of two', () => {
    expect(() => new LeafAccumulator(17)).toThrow(RangeError);
    expect(() => buildTree(['', '', ''])).toThrow(RangeError);
  });

  it('diffTrees finds exactly the leaves that differ (property, against a naive twin)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 8 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.string({ maxLength: 4 })), { maxLength: 40 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.string({ maxLength: 4 })), { maxLength: 40 }),
      (depth, xs, ys) => {
        const n = 2 ** depth;
        const leaves = (entries: Array<[number, string]>) => {
          const out = new Array<string>(n).fill('');
          for (const [i, v] of entries) out[i % n] = v;
          return out;
        };
        const a = leaves(xs);
        const b = leaves(ys);
        const naive = a.map((x, i) => (x === b[i] ? -1 : i)).filter((i) => i >= 0);
        const d = diffTrees(buildTree(a), buildTree(b));
        expect(d.leaves).toEqual(naive);
        if (naive.length === 0) expect(d.compared).toBe(1);
      },
    ), { numRuns: 300 });
  });

  it('a planted difference in one of 1000 documents is found by walking a few tree nodes, not every leaf', () => {
    const docs: Array<[string, string, unknown]> = Array.from({ length: 1000 }, (_, i) => ['a', `d${i}`, { id: `d${i}`, data: { i } }]);
    const p = digestOf('p', docs, 10);
    const bad = docs.map((d) => (d[1] === 'd500' ? ['a', 'd500', { id: 'd500', data: { i: -1 } }] as [string, string, unknown] : d));
    const r = digestOf('r', bad, 10);
    const ranges = differingRanges(p, [r, digestOf('s', docs, 10)]);
    expect(ranges.union).toEqual([leafOf(docToken('a', 'd500'), 10)]);
    expect(ranges.byNode.get('s')).toEqual([]);
    // One path down a depth-10 tree per copy (2 nodes per level) plus the equal copy's root.
    expect(ranges.compared).toBeLessThanOrEqual(2 * 10 + 1 + 1);
  });
});

describe('divergentDocs', () => {
  const doc = (id: string, rev: string, hash: string): DigestDoc => ({ db: 'a', id, rev, deleted: false, hash, leaf: 0 });

  it('names each copy of each divergent document: changed, missing, extra; equal ones are left out', () => {
    const byNode = new Map([
      ['p', [doc('x', '1-a', 'h1'), doc('y', '1-b', 'h2'), doc('same', '1-s', 'hs')]],
      ['r1', [doc('x', '1-a', 'EVIL'), doc('same', '1-s', 'hs'), doc('z', '1-z', 'hz')]],
      ['r2', [doc('x', '1-a', 'h1'), doc('y', '1-b', 'h2'), doc('same', '1-s', 'hs')]],
    ]);
    const out = divergentDocs('p', ['p', 'r1', 'r2'], byNode, 3);
    expect(out.map((d) => d.id)).toEqual(['x', 'y', 'z']);
    expect(out[0]!.copies).toEqual([
      { node: 'p', rev: '1-a', hash: 'h1', same: true },
      { node: 'r1', rev: '1-a', hash: 'EVIL', same: false },
      { node: 'r2', rev: '1-a', hash: 'h1', same: true },
    ]);
    expect(out[1]!.copies.find((c) => c.node === 'r1')).toEqual({ node: 'r1', rev: null, hash: null, same: false });
    expect(out[2]!.copies.find((c) => c.node === 'p')!.rev).toBeNull();
    expect(out.every((d) => !d.primaryOutvoted)).toBe(true);
  });

  it('marks a document where a majority disagrees with the primary', () => {
    const byNode = new Map([
      ['p', [doc('x', '1-a', 'BAD')]],
      ['r1', [doc('x', '1-a', 'h1')]],
      ['r2', [doc('x', '1-a', 'h1')]],
    ]);
    expect(divergentDocs('p', ['p', 'r1', 'r2'], byNode, 3)[0]!.primaryOutvoted).toBe(true);
    // Two of five agreeing against the primary is no majority.
    expect(divergentDocs('p', ['p', 'r1', 'r2'], byNode, 5)[0]!.primaryOutvoted).toBe(false);
  });

  it('a node left out of docsByNode had no differing range: it counts as the primary\'s copy', () => {
    const byNode = new Map([['p', [doc('x', '1-a', 'h1')]], ['r1', [doc('x', '1-a', 'h2')]]]);
    const out = divergentDocs('p', ['p', 'r1', 'r2'], byNode, 3);
    expect(out[0]!.copies.map((c) => c.same)).toEqual([true, false, true]);
  });

  it('divergentDbs lists where a database is missing', () => {
    const a = { ...digestOf('a', []), dbs: ['x', 'y'] };
    const b = { ...digestOf('b', []), dbs: ['x'] };
    expect(divergentDbs([a, b])).toEqual([{ db: 'y', missingOn: ['b'], presentOn: ['a'] }]);
    expect(divergentDbs([a, a])).toEqual([]);
  });
});
