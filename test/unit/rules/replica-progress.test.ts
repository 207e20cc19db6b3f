import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  batchSource, firstProbeWindow, MAX_WAL_PAGE, nextAction, nextBackoffMs, probeOutcome, shouldTruncate, widenProbeWindow, type StreamStatus,
} from '../../../src/rules/replica-progress.ts';
import type { SeqTerm } from '../../../src/core/protocol.ts';
import { findMatchSeq } from '../../../src/rules/log-match.ts';

const status = (over: Partial<StreamStatus>): StreamStatus => ({
  mode: 'replicate', matchSeq: 10, replicaLastSeq: 10, primaryLastSeq: 10, commitSeq: 10, sentCommitSeq: 10,
  lastSentMs: 1000, backoffUntilMs: 0, nowMs: 1000, heartbeatMs: 500, commitPushMs: 20, ...over,
});

describe('nextAction', () => {
  it.each<[string, Partial<StreamStatus>, string]>([
    ['backing off', { backoffUntilMs: 1500, matchSeq: 3 }, 'wait'],
    ['snapshot mode', { mode: 'snapshot' }, 'snapshot'],
    ['unknown match point', { mode: 'probe', matchSeq: null }, 'probe'],
    ['behind the primary', { matchSeq: 7 }, 'replicate'],
    ['holding a suffix the primary lacks', { replicaLastSeq: 12 }, 'replicate'],
    ['caught up, nothing new', {}, 'wait'],
    ['caught up, heartbeat due', { nowMs: 1500 }, 'heartbeat'],
    ['new commit, push delay not over', { commitSeq: 12, primaryLastSeq: 12, matchSeq: 12, replicaLastSeq: 12, nowMs: 1010 }, 'wait'],
    ['new commit, push delay over', { commitSeq: 12, primaryLastSeq: 12, matchSeq: 12, replicaLastSeq: 12, nowMs: 1020 }, 'heartbeat'],
    ['a read waits for confirmation the replica answered before it began', { confirmSinceMs: 1000, confirmedAtMs: 990 }, 'heartbeat'],
    ['a request stamped in the read\'s own millisecond may predate it: heartbeat again', { confirmSinceMs: 1000, confirmedAtMs: 1000 }, 'heartbeat'],
    ['a read already confirmed by a request sent after it began', { confirmSinceMs: 1000, confirmedAtMs: 1001 }, 'wait'],
    ['a read waiting, but backing off', { confirmSinceMs: 1000, confirmedAtMs: 0, backoffUntilMs: 1500 }, 'wait'],
    ['a read waiting while behind: the batch itself confirms', { confirmSinceMs: 1000, confirmedAtMs: 0, matchSeq: 7 }, 'replicate'],
  ])('%s → %s', (_name, over, kind) => {
    expect(nextAction(status(over)).kind).toBe(kind);
  });

  it('waits until exactly the next due time', () => {
    expect(nextAction(status({}))).toEqual({ kind: 'wait', untilMs: 1500 });
    expect(nextAction(status({ backoffUntilMs: 1300, matchSeq: 3 }))).toEqual({ kind: 'wait', untilMs: 1300 });
  });
});

describe('batchSource', () => {
  const base = { buffered: 0, bufferLowestSeq: 5, nextSeq: 8, writesInFlight: 2, holeSinceMs: null, nowMs: 1000, holeWaitMs: 50 };
  it('uses the buffer when it holds the next entry', () => {
    expect(batchSource({ ...base, buffered: 3 })).toEqual({ kind: 'buffer' });
  });
  it('reads the WAL for entries already evicted', () => {
    expect(batchSource({ ...base, nextSeq: 3 })).toEqual({ kind: 'wal' });
  });
  it('waits briefly for a hole while writes are in flight (their answers bring the entries)', () => {
    expect(batchSource(base)).toEqual({ kind: 'wait', untilMs: 1050 });
    expect(batchSource({ ...base, holeSinceMs: 980 })).toEqual({ kind: 'wait', untilMs: 1030 });
  });
  it('fills a hole from the WAL when no write is in flight or the wait is over', () => {
    expect(batchSource({ ...base, writesInFlight: 0 })).toEqual({ kind: 'wal' });
    expect(batchSource({ ...base, holeSinceMs: 950 })).toEqual({ kind: 'wal' });
    expect(batchSource({ ...base, bufferLowestSeq: null, writesInFlight: 0 })).toEqual({ kind: 'wal' });
  });
});

describe('shouldTruncate', () => {
  it('truncates after a batch ending in the current term', () => {
    expect(shouldTruncate(9, 3, 3, null)).toBe(true);
  });
  it('truncates after an older-term batch only when it ends at the primary lastSeq just read', () => {
    expect(shouldTruncate(9, 2, 3, null)).toBe(false);
    expect(shouldTruncate(9, 2, 3, 12)).toBe(false);
    expect(shouldTruncate(12, 2, 3, 12)).toBe(true);
  });
});

/** A log of `len` entries whose terms never decrease, as Raft logs are. */
const logArb = (maxLen: number) => fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: maxLen }).map((steps) => {
  let term = 1;
  return steps.map((s, i): SeqTerm => { term += s === 2 ? 1 : 0; return { seq: i + 1, term }; });
});

/** Runs the probe planning the way ReplicaStream does, over in-memory logs. */
function probe(replica: SeqTerm[], primary: SeqTerm[], width: number): number | 'snapshot' {
  const base = 0;
  const lastSeq = replica.length;
  let w = firstProbeWindow(lastSeq, base, width);
  for (let round = 0; round < 100; round++) {
    const rTail = replica.filter((e) => e.seq > w.lo && e.seq <= w.hi);
    const pTail = primary.filter((e) => e.seq > Math.max(0, w.lo - 1) && e.seq <= w.hi);
    const o = probeOutcome({ window: w, replicaTail: rTail, primaryTail: pTail, replicaBaseSeq: base, primaryLastSeq: primary.length, primaryOldestSeq: 1 });
    if (o.kind === 'match') return o.seq;
    if (o.kind === 'snapshot') return 'snapshot';
    w = widenProbeWindow(w, base);
  }
  throw new Error('probe did not terminate');
}

describe('probe planning', () => {
  it('finds the true match point of two Raft-shaped logs (1000 random pairs)', () => {
    // Build logs that share a prefix and then diverge with the primary in a higher term.
    const pair = fc.tuple(logArb(40), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }))
      .map(([prefix, cut, extraR, extraP]) => {
        const shared = prefix.slice(0, Math.min(cut, prefix.length));
        const top = shared.at(-1)?.term ?? 1;
        const replica = [...shared, ...Array.from({ length: extraR }, (_, i) => ({ seq: shared.length + i + 1, term: top + 1 }))];
        const primary = [...shared, ...Array.from({ length: extraP }, (_, i) => ({ seq: shared.length + i + 1, term: top + 2 }))];
        return { replica, primary, expected: shared.length };
      });
    fc.assert(fc.property(pair, fc.integer({ min: 1, max: 16 }), ({ replica, primary, expected }, width) => {
      expect(probe(replica, primary, width)).toBe(expected);
    }), { numRuns: 1000 });
  });

  it('matches a replica whose log is a prefix of the primary at its last entry', () => {
    const primary = Array.from({ length: 50 }, (_, i) => ({ seq: i + 1, term: 1 }));
    expect(probe(primary.slice(0, 20), primary, 8)).toBe(20);
  });

  it('treats a trimmed replica base as matched, unless the primary no longer reaches it', () => {
    const w = { lo: 100, hi: 100 };
    expect(probeOutcome({ window: w, replicaTail: [], primaryTail: [{ seq: 100, term: 1 }], replicaBaseSeq: 100, primaryLastSeq: 150, primaryOldestSeq: 90 }))
      .toEqual({ kind: 'match', seq: 100 });
    expect(probeOutcome({ window: w, replicaTail: [], primaryTail: [], replicaBaseSeq: 100, primaryLastSeq: 150, primaryOldestSeq: 120 }))
      .toEqual({ kind: 'snapshot' });
    expect(probeOutcome({ window: w, replicaTail: [], primaryTail: [], replicaBaseSeq: 100, primaryLastSeq: 80, primaryOldestSeq: 1 }))
      .toEqual({ kind: 'snapshot' });
  });

  it('widens the window downwards, capped at one WAL page, never below the base', () => {
    expect(firstProbeWindow(1000, 0, 64)).toEqual({ lo: 936, hi: 1000 });
    expect(firstProbeWindow(10, 5, 64)).toEqual({ lo: 5, hi: 10 });
    expect(widenProbeWindow({ lo: 936, hi: 1000 }, 0)).toEqual({ lo: 680, hi: 936 });
    const wide = widenProbeWindow({ lo: 50_000, hi: 60_000 }, 0);
    expect(wide.hi - wide.lo).toBe(MAX_WAL_PAGE);
    expect(widenProbeWindow({ lo: 30, hi: 40 }, 20)).toEqual({ lo: 20, hi: 30 });
  });
});

describe('findMatchSeq', () => {
  it('is the highest seq with equal terms on both sides', () => {
    expect(findMatchSeq([{ seq: 1, term: 1 }, { seq: 2, term: 1 }, { seq: 3, term: 2 }], [{ seq: 1, term: 1 }, { seq: 2, term: 1 }, { seq: 3, term: 3 }])).toBe(2);
    expect(findMatchSeq([{ seq: 4, term: 2 }], [{ seq: 4, term: 3 }])).toBeNull();
    expect(findMatchSeq([], [{ seq: 1, term: 1 }])).toBeNull();
  });
});

describe('nextBackoffMs', () => {
  it('doubles from 25 ms up to the cap', () => {
    const seen: number[] = [];
    let b = 0;
    for (let i = 0; i < 8; i++) seen.push(b = nextBackoffMs(b, 500));
    expect(seen).toEqual([25, 50, 100, 200, 400, 500, 500, 500]);
  });
});
