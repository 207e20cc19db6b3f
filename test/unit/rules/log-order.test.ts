import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareLogs, logAtLeast } from '../../../src/rules/log-order.ts';

describe('compareLogs', () => {
  it('orders by term first, then seq', () => {
    expect(compareLogs({ lastTerm: 2, lastSeq: 1 }, { lastTerm: 1, lastSeq: 100 })).toBeGreaterThan(0);
    expect(compareLogs({ lastTerm: 2, lastSeq: 1 }, { lastTerm: 2, lastSeq: 2 })).toBeLessThan(0);
    expect(compareLogs({ lastTerm: 2, lastSeq: 2 }, { lastTerm: 2, lastSeq: 2 })).toBe(0);
  });
});

describe('logAtLeast (property)', () => {
  const pos = fc.record({ lastTerm: fc.nat(5), lastSeq: fc.nat(20) });
  it('is a total preorder: any two logs compare, and it is transitive', () => {
    fc.assert(fc.property(pos, pos, pos, (a, b, c) => {
      expect(logAtLeast(a, b) || logAtLeast(b, a)).toBe(true);
      if (logAtLeast(a, b) && logAtLeast(b, c)) expect(logAtLeast(a, c)).toBe(true);
    }));
  });
  it('a higher last term wins whatever the lengths; equal terms compare by length', () => {
    fc.assert(fc.property(pos, pos, (a, b) => {
      if (a.lastTerm !== b.lastTerm) expect(logAtLeast(a, b)).toBe(a.lastTerm > b.lastTerm);
      else expect(logAtLeast(a, b)).toBe(a.lastSeq >= b.lastSeq);
    }));
  });
});
