import { describe, expect, it } from 'vitest';
import { shardFor } from '../../src/core/hash.ts';
import { findShard, idsOnShard, newPrimaryElected, readBackViolations, rejoinedAsReplica, shardConverged, unavailabilityMs, type ShardInfo } from '../../src/cli/failover-checks.ts';

const shard = (over: Partial<ShardInfo> = {}): ShardInfo => ({
  id: 1, term: 3, primaryId: 's1b',
  nodes: [
    { id: 's1a', role: 'replica', term: 3, lastSeq: 10, health: 'InSync' },
    { id: 's1b', role: 'primary', term: 3, lastSeq: 10, health: 'InSync' },
    { id: 's1c', role: 'replica', term: 3, lastSeq: 10, health: 'InSync' },
  ],
  ...over,
});

describe('idsOnShard', () => {
  it('yields distinct ids that all hash to the shard', () => {
    const gen = idsOnShard('t', 2, 3);
    const ids = Array.from({ length: 50 }, () => gen.next().value as string);
    expect(new Set(ids).size).toBe(50);
    for (const id of ids) expect(shardFor(id, 3)).toBe(2);
  });
});

describe('cluster answer checks', () => {
  it('findShard picks by id', () => {
    expect(findShard({ shards: [shard({ id: 0 }), shard()] }, 1)?.id).toBe(1);
    expect(findShard({ nope: 1 }, 1)).toBeUndefined();
  });
  it.each([
    ['same primary', shard({ primaryId: 's1a', term: 3 }), false],
    ['new primary, same term', shard({ primaryId: 's1b', term: 3 }), false],
    ['new primary, higher term', shard({ primaryId: 's1b', term: 4 }), true],
    ['no primary', shard({ primaryId: null, term: 4 }), false],
  ])('newPrimaryElected: %s', (_n, now, expected) => {
    expect(newPrimaryElected({ primaryId: 's1a', term: 3 }, now)).toBe(expected);
  });
  it('rejoinedAsReplica needs role replica, the shard term and InSync', () => {
    expect(rejoinedAsReplica(shard(), 's1a')).toBe(true);
    expect(rejoinedAsReplica(shard(), 's1b')).toBe(false);
    const stale = shard();
    stale.nodes[0] = { id: 's1a', role: 'primary', term: 2, lastSeq: 8, health: 'InSync' };
    expect(rejoinedAsReplica(stale, 's1a')).toBe(false);
    const catching = shard();
    catching.nodes[0] = { ...catching.nodes[0]!, health: 'CatchingUp' };
    expect(rejoinedAsReplica(catching, 's1a')).toBe(false);
  });
  it('shardConverged compares every lastSeq', () => {
    expect(shardConverged(shard())).toBe(true);
    const behind = shard();
    behind.nodes[2] = { ...behind.nodes[2]!, lastSeq: 9 };
    expect(shardConverged(behind)).toBe(false);
    const unknown = shard();
    unknown.nodes[2] = { ...unknown.nodes[2]!, lastSeq: null };
    expect(shardConverged(unknown)).toBe(false);
  });
});

describe('readBackViolations', () => {
  it('reports missing, failed and changed documents only', () => {
    const acked = new Map([['a', '1-x'], ['b', '1-y'], ['c', '1-z'], ['d', '1-w']]);
    const read = new Map([['a', { status: 200, rev: '1-x' }], ['b', { status: 404 }], ['c', { status: 200, rev: '2-q' }]]);
    expect(readBackViolations(acked, read, 'router')).toEqual([
      'router: b acknowledged as 1-y but GET answered 404',
      'router: c acknowledged as 1-z but has rev 2-q',
      'router: d was not read back',
    ]);
  });
});

describe('unavailabilityMs', () => {
  it('is the gap from the kill to the first later-sent successful write', () => {
    const writes = [
      { startMs: 90, ok: true },
      { startMs: 105, ok: false },
      { startMs: 1700, ok: true },
      { startMs: 1500, ok: true },
    ];
    expect(unavailabilityMs(100, writes)).toBe(1400);
    expect(unavailabilityMs(100, [{ startMs: 200, ok: false }])).toBeNull();
  });
});
