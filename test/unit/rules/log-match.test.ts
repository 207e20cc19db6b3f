import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SeqTerm } from '../../../src/core/protocol.ts';
import { findMatchSeq } from '../../../src/rules/log-match.ts';

/** The naive twin: try every seq from the top down. */
function naive(a: ReadonlyArray<SeqTerm>, b: ReadonlyArray<SeqTerm>): number | null {
  const seqs = [...new Set(a.map((e) => e.seq))].sort((x, y) => y - x);
  for (const s of seqs) {
    const ta = a.filter((e) => e.seq === s).map((e) => e.term);
    const tb = b.filter((e) => e.seq === s).map((e) => e.term);
    if (ta.some((t) => tb.includes(t))) return s;
  }
  return null;
}

/** A log as (seq, term) from a list of non-decreasing terms, seqs from `start`. */
const log = (terms: number[], start = 1): SeqTerm[] => terms.map((term, i) => ({ seq: start + i, term }));

describe('findMatchSeq', () => {
  it.each([
    ['identical logs match at their end', log([1, 1, 2]), log([1, 1, 2]), 3],
    ['a longer remote still matches the shorter local end', log([1, 1]), log([1, 1, 2, 2]), 2],
    ['diverged after seq 2', log([1, 1, 2, 2]), log([1, 1, 3, 3]), 2],
    ['no common entry in the windows', log([2, 2], 5), log([3, 3], 5), null],
    ['disjoint windows', log([1, 1], 1), log([1, 1], 10), null],
    ['empty local', [], log([1]), null],
  ] as const)('%s', (_n, local, remote, expected) => {
    expect(findMatchSeq(local, remote)).toBe(expected);
  });

  it('agrees with the naive twin on random tails', () => {
    const terms = fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 12 }).map((t) => t.sort((x, y) => x - y));
    fc.assert(fc.property(terms, terms, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), (a, b, sa, sb) => {
      const la = log(a, sa);
      const lb = log(b, sb);
      expect(findMatchSeq(la, lb)).toBe(naive(la, lb));
    }), { numRuns: 1000 });
  });
});
