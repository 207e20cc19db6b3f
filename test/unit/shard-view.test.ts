import { describe, expect, it } from 'vitest';
import { ShardView } from '../../router/replication/shard-view.ts';
import type { NodeState } from '../../src/core/protocol.ts';

const state = (nodeId: string, over: Partial<NodeState>): NodeState => ({
  nodeId, shardId: 0, role: 'replica', term: 1, votedFor: null, primaryId: null, lastSeq: 0, lastTerm: 0,
  commitSeq: 0, oldestSeq: 1, ready: true, rollbackCount: 0, ...over,
});

describe('ShardView', () => {
  it('tracks last states, reachability and the commit point from the nodes', () => {
    const v = new ShardView(0, ['a', 'b', 'c']);
    expect(v.observe('a', state('a', { role: 'primary', lastSeq: 5, commitSeq: 4 }), 1000)).toBe(true);
    expect(v.observe('b', state('b', { lastSeq: 5, commitSeq: 3 }), 1000)).toBe(false);
    v.observe('c', null, 1000);
    expect(v.primaryId).toBe('a');
    expect(v.term).toBe(1);
    expect(v.commitSeq).toBe(4);
    expect(v.reachable(1100, 500)).toEqual(['a', 'b']);
    expect(v.reachable(2000, 500)).toEqual([]);
    v.observe('b', null, 1200);
    expect(v.reachable(1200, 500)).toEqual(['a']);
  });
  it('adopts a coordinator result only forwards in term', () => {
    const v = new ShardView(0, ['a', 'b']);
    v.observe('a', state('a', { term: 4, role: 'primary' }), 0);
    expect(v.adopt(3, 'b')).toBe(false);
    expect(v.adopt(5, 'b')).toBe(true);
    expect([v.term, v.primaryId]).toEqual([5, 'b']);
  });
});
