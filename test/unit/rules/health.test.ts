import { describe, expect, it } from 'vitest';
import { classifyHealth, lagEntries, lagMs, lagThresholdEntries, MIN_LAG_ENTRIES, updateWriteRate, type Health, type HealthInput } from '../../../src/rules/health.ts';
import type { NodeState } from '../../../src/core/protocol.ts';

function st(over: Partial<NodeState> = {}): NodeState {
  return {
    nodeId: 'b', shardId: 0, role: 'replica', term: 2, votedFor: null, primaryId: 'a',
    lastSeq: 1000, lastTerm: 2, commitSeq: 990, oldestSeq: 1, ready: true, rollbackCount: 0, ...over,
  };
}

const base: HealthInput = {
  state: st(), lastSeenMs: 10_000, nowMs: 10_400, primaryLastSeq: 1000, writeRatePerMs: 0,
  maxReplicationLagMs: 10_000, failoverTimeoutMs: 1500, isPrimary: false,
};

describe('classifyHealth (table)', () => {
  const cases: { name: string; over: Partial<HealthInput>; want: Health }[] = [
    { name: 'level with the primary', over: {}, want: 'InSync' },
    { name: 'never answered', over: { state: null, lastSeenMs: null }, want: 'Offline' },
    { name: 'a state without a time counts as never seen', over: { lastSeenMs: null }, want: 'Offline' },
    { name: 'silent exactly failoverTimeoutMs: still online', over: { nowMs: 11_500 }, want: 'InSync' },
    { name: 'silent one ms longer than failoverTimeoutMs', over: { nowMs: 11_501 }, want: 'Offline' },
    { name: 'offline wins over everything else', over: { nowMs: 20_000, state: st({ ready: false }), streamMode: 'snapshot' }, want: 'Offline' },
    { name: 'not ready', over: { state: st({ ready: false }) }, want: 'CatchingUp' },
    { name: 'stream probing', over: { streamMode: 'probe' }, want: 'CatchingUp' },
    { name: 'stream installing a snapshot', over: { streamMode: 'snapshot', state: st({ lastSeq: 0 }) }, want: 'CatchingUp' },
    { name: 'stream replicating and level', over: { streamMode: 'replicate' }, want: 'InSync' },
    { name: 'idle shard, one entry behind: not lagging', over: { state: st({ lastSeq: 999 }) }, want: 'InSync' },
    { name: 'idle shard, exactly the floor behind', over: { state: st({ lastSeq: 1000 - MIN_LAG_ENTRIES }) }, want: 'InSync' },
    { name: 'idle shard, one past the floor', over: { state: st({ lastSeq: 999 - MIN_LAG_ENTRIES }) }, want: 'Lagging' },
    // 2 writes/ms × 10 s = 20000 entries of allowed lag.
    { name: 'busy shard, 19999 behind is within maxReplicationLagMs', over: { writeRatePerMs: 2, primaryLastSeq: 20_999, state: st({ lastSeq: 1000 }) }, want: 'InSync' },
    { name: 'busy shard, 20001 behind is past it', over: { writeRatePerMs: 2, primaryLastSeq: 21_001, state: st({ lastSeq: 1000 }) }, want: 'Lagging' },
    { name: 'ahead of a stale view of the primary', over: { state: st({ lastSeq: 1100 }) }, want: 'InSync' },
    { name: 'the primary is in sync with itself', over: { isPrimary: true, state: st({ role: 'primary', lastSeq: 10 }) }, want: 'InSync' },
    { name: 'a primary that is not ready', over: { isPrimary: true, state: st({ role: 'primary', ready: false }) }, want: 'CatchingUp' },
    { name: 'an offline primary', over: { isPrimary: true, nowMs: 12_000 }, want: 'Offline' },
    { name: 'maxReplicationLagMs 0 still has the floor', over: { maxReplicationLagMs: 0, state: st({ lastSeq: 995 }) }, want: 'InSync' },
    { name: 'a custom floor', over: { minLagEntries: 2, state: st({ lastSeq: 997 }) }, want: 'Lagging' },
  ];
  for (const c of cases) {
    it(c.name, () => expect(classifyHealth({ ...base, ...c.over })).toBe(c.want));
  }
});

describe('lag estimates', () => {
  it('lagEntries counts entries behind, never negative', () => {
    expect(lagEntries(st({ lastSeq: 900 }), 1000)).toBe(100);
    expect(lagEntries(st({ lastSeq: 1001 }), 1000)).toBe(0);
    expect(lagEntries(null, 1000)).toBe(1000);
  });

  it('lagMs divides by the write rate, and is unknown on an idle shard', () => {
    expect(lagMs(0, 0)).toBe(0);
    expect(lagMs(100, 0.5)).toBe(200);
    expect(lagMs(100, 0)).toBeNull();
    expect(lagMs(3, 2)).toBe(2);
  });

  it('the threshold is the rate times the allowed lag, floored', () => {
    expect(lagThresholdEntries({ writeRatePerMs: 0, maxReplicationLagMs: 10_000 })).toBe(MIN_LAG_ENTRIES);
    expect(lagThresholdEntries({ writeRatePerMs: 0.5, maxReplicationLagMs: 10_000 })).toBe(5000);
    expect(lagThresholdEntries({ writeRatePerMs: -1, maxReplicationLagMs: 10_000 })).toBe(MIN_LAG_ENTRIES);
    expect(lagThresholdEntries({ writeRatePerMs: 0.0001, maxReplicationLagMs: 10_000, minLagEntries: 0 })).toBe(1);
  });
});

describe('updateWriteRate', () => {
  it('starts at zero and converges to a steady rate', () => {
    let r = updateWriteRate(null, 0, 0);
    expect(r.ratePerMs).toBe(0);
    for (let t = 500; t <= 60_000; t += 500) r = updateWriteRate(r, t * 2, t); // 2 entries/ms
    expect(r.ratePerMs).toBeCloseTo(2, 3);
  });

  it('weighs a reading one half-life old by half', () => {
    const r = updateWriteRate({ ratePerMs: 4, seq: 100, atMs: 1000 }, 100, 6000, 5000);
    expect(r.ratePerMs).toBeCloseTo(2, 9);
  });

  it('ignores a reading that is not newer, and rebases on a seq that went backwards', () => {
    const prev = { ratePerMs: 1, seq: 500, atMs: 1000 };
    expect(updateWriteRate(prev, 600, 1000)).toBe(prev);
    expect(updateWriteRate(prev, 10, 2000)).toEqual({ ratePerMs: 1, seq: 10, atMs: 2000 });
  });
});
