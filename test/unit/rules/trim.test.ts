import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planTrim, type TrimInput } from '../../../src/rules/trim.ts';

const base: TrimInput = { baseSeq: 0, lastSeq: 5000, commitSeq: 5000, keep: null, retention: 1000, minChunk: 100 };

describe('planTrim (table)', () => {
  const cases: Array<{ name: string; over: Partial<TrimInput>; want: number | null }> = [
    { name: 'keeps the newest `retention` entries', over: {}, want: 4000 },
    { name: 'never past the commit point', over: { commitSeq: 3000 }, want: 3000 },
    { name: 'never past what an in-sync replica still needs', over: { keep: 2500 }, want: 2500 },
    { name: 'nothing when less than a chunk could go', over: { baseSeq: 3950 }, want: null },
    { name: 'nothing when the log is shorter than the retention', over: { lastSeq: 900, commitSeq: 900 }, want: null },
    { name: 'nothing when the commit point is below the base', over: { baseSeq: 3000, commitSeq: 2000 }, want: null },
  ];
  for (const c of cases) it(c.name, () => expect(planTrim({ ...base, ...c.over })).toBe(c.want));
});

describe('planTrim (property)', () => {
  it('never trims an uncommitted entry, one a replica needs, or into the retained tail; moves the base forward only', () => {
    const input = fc.record({
      baseSeq: fc.nat(2000), span: fc.nat(5000), commitFrac: fc.double({ min: 0, max: 1, noNaN: true }),
      keep: fc.option(fc.nat(8000)), retention: fc.integer({ min: 100, max: 3000 }), minChunk: fc.integer({ min: 1, max: 500 }),
    });
    fc.assert(fc.property(input, (i) => {
      const lastSeq = i.baseSeq + i.span;
      const t: TrimInput = {
        baseSeq: i.baseSeq, lastSeq, commitSeq: Math.floor(i.commitFrac * lastSeq), keep: i.keep, retention: i.retention, minChunk: i.minChunk,
      };
      const upTo = planTrim(t);
      if (upTo === null) return;
      expect(upTo).toBeLessThanOrEqual(t.commitSeq);
      if (t.keep !== null) expect(upTo).toBeLessThanOrEqual(t.keep);
      expect(lastSeq - upTo).toBeGreaterThanOrEqual(t.retention);
      expect(upTo - t.baseSeq).toBeGreaterThanOrEqual(t.minChunk);
    }));
  });
});
