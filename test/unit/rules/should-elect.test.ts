import { describe, expect, it } from 'vitest';
import type { Health } from '../../../src/rules/health.ts';
import { electionGapMs, shouldElect } from '../../../src/rules/should-elect.ts';

describe('shouldElect (table)', () => {
  const cases: { health: Health | null; last: number | null; now: number; want: boolean }[] = [
    { health: 'Offline', last: null, now: 0, want: true },
    { health: 'Offline', last: 1000, now: 1499, want: false },
    { health: 'Offline', last: 1000, now: 1500, want: true },
    { health: null, last: 1000, now: 1500, want: true },
    { health: null, last: 1000, now: 1200, want: false },
    { health: 'InSync', last: null, now: 0, want: false },
    { health: 'Lagging', last: null, now: 0, want: false },
    { health: 'CatchingUp', last: null, now: 0, want: false },
  ];
  for (const c of cases) {
    it(`primary ${c.health}, last election ${c.last}, now ${c.now} → ${c.want}`, () => {
      expect(shouldElect({ primaryHealth: c.health, lastElectionEndMs: c.last, nowMs: c.now, minGapMs: 500 })).toBe(c.want);
    });
  }

  it('a primary the view just took on gets a failover timeout to answer before its silence counts', () => {
    const base = { primaryHealth: 'Offline' as const, lastElectionEndMs: null, minGapMs: 500, primarySinceMs: 10_000, graceMs: 1000 };
    expect(shouldElect({ ...base, nowMs: 10_500 })).toBe(false);
    expect(shouldElect({ ...base, nowMs: 11_000 })).toBe(true);
    // No primary at all: nothing to wait for.
    expect(shouldElect({ ...base, primaryHealth: null, nowMs: 10_100 })).toBe(true);
  });

  it('electionGapMs spreads over [base, 2 × base)', () => {
    expect(electionGapMs(500, () => 0)).toBe(500);
    expect(electionGapMs(500, () => 0.999)).toBe(999);
  });
});
