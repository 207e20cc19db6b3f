import { describe, expect, it } from 'vitest';
import { adoptHint, adoptState } from '../../../src/rules/view.ts';
import type { NodeState } from '../../../src/core/protocol.ts';

const state = (nodeId: string, over: Partial<NodeState>): NodeState => ({
  nodeId, shardId: 0, role: 'replica', term: 1, votedFor: null, primaryId: null, lastSeq: 0, lastTerm: 0,
  commitSeq: 0, oldestSeq: 1, ready: true, rollbackCount: 0, ...over,
});

describe('adoptState', () => {
  const view = { term: 2, primaryId: 'a' };
  it('a higher term wins; its primary is known only if that node says so', () => {
    expect(adoptState(view, 'b', state('b', { term: 3, role: 'primary' }))).toEqual({ term: 3, primaryId: 'b' });
    expect(adoptState(view, 'c', state('c', { term: 3, role: 'replica', primaryId: 'b' }))).toEqual({ term: 3, primaryId: null });
  });
  it('at the same term, the node reporting primary is the primary', () => {
    expect(adoptState({ term: 2, primaryId: null }, 'b', state('b', { term: 2, role: 'primary' }))).toEqual({ term: 2, primaryId: 'b' });
  });
  it('a fresh data dir not joined yet is never the primary, at any term (the wiped first node of a shard says primary at term 1)', () => {
    expect(adoptState({ term: 1, primaryId: null }, 'a', state('a', { term: 1, role: 'primary', joined: false }))).toEqual({ term: 1, primaryId: null });
    expect(adoptState({ term: 1, primaryId: 'a' }, 'a', state('a', { term: 1, role: 'primary', joined: false }))).toEqual({ term: 1, primaryId: null });
    expect(adoptState(view, 'b', state('b', { term: 3, role: 'primary', joined: false }))).toEqual({ term: 3, primaryId: null });
  });
  it('our primary reporting replica at our term loses the role', () => {
    expect(adoptState(view, 'a', state('a', { term: 2, role: 'replica' }))).toEqual({ term: 2, primaryId: null });
  });
  it('lower terms and silence change nothing', () => {
    expect(adoptState(view, 'b', state('b', { term: 1, role: 'primary' }))).toBe(view);
    expect(adoptState(view, 'a', null)).toBe(view);
  });
  it('our primary reporting a lower term without the committed log (its data dir was wiped) loses the role', () => {
    expect(adoptState(view, 'a', state('a', { term: 1, role: 'replica', lastSeq: 0 }), 10)).toEqual({ term: 2, primaryId: null });
    expect(adoptState(view, 'a', state('a', { term: 1, role: 'primary', lastSeq: 9 }), 10)).toEqual({ term: 2, primaryId: null });
    // With the log it is an old answer that overtook the election: the next poll tells.
    expect(adoptState(view, 'a', state('a', { term: 1, role: 'replica', lastSeq: 10 }), 10)).toBe(view);
  });
  it('a hint with a higher term drops the primary until a state confirms one', () => {
    expect(adoptHint(view, 5)).toEqual({ term: 5, primaryId: null });
    expect(adoptHint(view, 2)).toBe(view);
    expect(adoptHint(view, undefined)).toBe(view);
  });
});
