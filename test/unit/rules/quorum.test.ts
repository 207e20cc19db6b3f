import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VoteResponse } from '../../../src/core/protocol.ts';
import { acksFor, advanceCommit, majority, quorumSeq, tallyVotes } from '../../../src/rules/quorum.ts';

// STYLE §3: the optimised commit count against a naive twin over thousands
// of random cases, plus Raft's current-term rule.

/** Naive twin: the highest seq s such that at least W copies hold s (0 if none). */
function naiveQuorumSeq(primaryLastSeq: number, replicas: ReadonlyArray<number | null>, w: number): number {
  for (let s = primaryLastSeq; s > 0; s--) {
    let holders = 1; // the primary holds everything up to its lastSeq
    for (const m of replicas) if (m !== null && m >= s) holders++;
    if (holders >= w) return s;
  }
  return 0;
}

const scenario = fc.integer({ min: 0, max: 60 }).chain((primaryLastSeq) => fc.record({
  primaryLastSeq: fc.constant(primaryLastSeq),
  replicas: fc.array(fc.option(fc.integer({ min: 0, max: primaryLastSeq }), { nil: null }), { minLength: 0, maxLength: 6 }),
  w: fc.integer({ min: 1, max: 7 }),
}));

describe('quorumSeq', () => {
  it('equals the naive twin on random copies (5000 cases)', () => {
    fc.assert(fc.property(scenario, ({ primaryLastSeq, replicas, w }) => {
      expect(quorumSeq(primaryLastSeq, replicas, w)).toBe(naiveQuorumSeq(primaryLastSeq, replicas, w));
    }), { numRuns: 5000 });
  });

  it('is the W-th highest copy', () => {
    expect(quorumSeq(10, [7, 4], 2)).toBe(7);
    expect(quorumSeq(10, [7, 4], 3)).toBe(4);
    expect(quorumSeq(10, [null, 4], 2)).toBe(4);
    expect(quorumSeq(10, [null, null], 2)).toBe(0);
    expect(quorumSeq(10, [], 1)).toBe(10);
  });

  it('never counts a replica beyond what the primary holds', () => {
    expect(quorumSeq(5, [9, 9], 3)).toBe(5);
  });

  it('acksFor counts the copies holding a seq', () => {
    fc.assert(fc.property(scenario, fc.integer({ min: 1, max: 60 }), ({ primaryLastSeq, replicas, w }, seq) => {
      const acks = acksFor(seq, primaryLastSeq, replicas);
      // Consistent with the commit count: seq is committed iff at least W copies hold it.
      if (seq <= primaryLastSeq) expect(acks >= w).toBe(quorumSeq(primaryLastSeq, replicas, w) >= seq);
    }), { numRuns: 2000 });
  });
});

describe('advanceCommit (current-term rule)', () => {
  it('does not advance while no entry of the current term is known', () => {
    expect(advanceCommit(3, 9, null)).toBe(3);
  });

  it('does not advance to an older-term entry, even on a quorum', () => {
    // Entries 1..6 are from older terms; the current term starts at 7.
    expect(advanceCommit(3, 6, 7)).toBe(3);
  });

  it('advances to a current-term entry, committing older entries with it', () => {
    expect(advanceCommit(3, 8, 7)).toBe(8);
  });

  it('never goes backwards', () => {
    fc.assert(fc.property(fc.nat(100), fc.nat(100), fc.option(fc.nat(100), { nil: null }), (commit, candidate, from) => {
      const next = advanceCommit(commit, candidate, from);
      expect(next).toBeGreaterThanOrEqual(commit);
      if (next > commit) {
        expect(next).toBe(candidate);
        expect(from).not.toBeNull();
        expect(candidate).toBeGreaterThanOrEqual(from!);
      }
    }), { numRuns: 2000 });
  });
});

const NODES = ['a', 'b', 'c'];

describe('tallyVotes (table)', () => {
  const g = (term: number): VoteResponse => ({ granted: true, term });
  const r = (term: number): VoteResponse => ({ granted: false, term });
  const cases: { name: string; responses: Record<string, VoteResponse | null>; want: ReturnType<typeof tallyVotes> }[] = [
    { name: 'all grant', responses: { a: g(4), b: g(4), c: g(4) }, want: { granted: 3, needed: 2, majority: true, highestTerm: 4, superseded: false } },
    { name: 'two of three', responses: { a: null, b: g(4), c: g(4) }, want: { granted: 2, needed: 2, majority: true, highestTerm: 4, superseded: false } },
    { name: 'one grant, one refusal', responses: { a: null, b: g(4), c: r(4) }, want: { granted: 1, needed: 2, majority: false, highestTerm: 4, superseded: false } },
    { name: 'a refusal at a higher term aborts even with a majority', responses: { a: r(6), b: g(4), c: g(4) }, want: { granted: 2, needed: 2, majority: false, highestTerm: 6, superseded: true } },
    { name: 'a grant for another term does not count', responses: { a: g(3), b: g(4), c: null }, want: { granted: 1, needed: 2, majority: false, highestTerm: 4, superseded: false } },
    { name: 'answers from unknown nodes do not count', responses: { x: g(4), y: g(4), b: g(4) }, want: { granted: 1, needed: 2, majority: false, highestTerm: 4, superseded: false } },
  ];
  for (const c of cases) {
    it(c.name, () => expect(tallyVotes(c.responses, NODES, 4)).toEqual(c.want));
  }
});

describe('majority', () => {
  it('is more than half', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(majority)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });
});
