import { describe, expect, it } from 'vitest';
import type { NodeState } from '../../../src/core/protocol.ts';
import { planSwitchover } from '../../../src/rules/switchover.ts';

function st(nodeId: string, lastSeq: number, over: Partial<NodeState> = {}): NodeState {
  return {
    nodeId, shardId: 0, role: 'replica', term: 1, votedFor: null, primaryId: 'a',
    lastSeq, lastTerm: 1, commitSeq: 0, oldestSeq: 1, ready: true, rollbackCount: 0, ...over,
  };
}

describe('planSwitchover (table)', () => {
  const nodes = ['a', 'b', 'c'];
  const cases: { name: string; states: Record<string, NodeState | null>; target?: string; want: ReturnType<typeof planSwitchover> }[] = [
    { name: 'target level with the primary', states: { a: st('a', 9), b: st('b', 9), c: st('c', 8) }, target: 'b', want: { kind: 'ready', targetId: 'b' } },
    { name: 'target behind: wait', states: { a: st('a', 9), b: st('b', 9), c: st('c', 7) }, target: 'c', want: { kind: 'wait', targetId: 'c', behind: 2 } },
    { name: 'no target: the most complete replica', states: { a: st('a', 9), b: st('b', 7), c: st('c', 8) }, want: { kind: 'wait', targetId: 'c', behind: 1 } },
    { name: 'no target, ties by config order', states: { a: st('a', 9), b: st('b', 9), c: st('c', 9) }, want: { kind: 'ready', targetId: 'b' } },
    { name: 'an older lastTerm is behind even when longer', states: { a: st('a', 5, { lastTerm: 2 }), b: st('b', 9), c: null }, target: 'b', want: { kind: 'wait', targetId: 'b', behind: 1 } },
    { name: 'the primary does not answer: let the election decide', states: { a: null, b: st('b', 3), c: st('c', 9) }, target: 'b', want: { kind: 'ready', targetId: 'b' } },
    { name: 'target is the primary', states: { a: st('a', 9), b: null, c: null }, target: 'a', want: { kind: 'refuse', reason: 'target_is_primary', targetId: 'a' } },
    { name: 'target does not answer', states: { a: st('a', 9), b: st('b', 9), c: null }, target: 'c', want: { kind: 'refuse', reason: 'target_unreachable', targetId: 'c' } },
    { name: 'no replica answers', states: { a: st('a', 9), b: null, c: null }, want: { kind: 'refuse', reason: 'no_replica' } },
  ];
  for (const c of cases) {
    it(c.name, () => expect(planSwitchover({ nodes, states: c.states, primaryId: 'a', ...(c.target ? { target: c.target } : {}) })).toEqual(c.want));
  }
});
