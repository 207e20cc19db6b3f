import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodeState } from '../../../src/core/protocol.ts';
import { planJoin } from '../../../src/rules/join.ts';
import { majority } from '../../../src/rules/quorum.ts';

const NODES = ['a', 'b', 'c'];
const st = (nodeId: string, over: Partial<NodeState> = {}): NodeState => ({
  nodeId, shardId: 0, role: 'replica', term: 1, votedFor: null, primaryId: 'a', lastSeq: 0, lastTerm: 0,
  commitSeq: 0, oldestSeq: 1, ready: true, rollbackCount: 0, joined: false, ...over,
});

describe('planJoin (table)', () => {
  it('a brand-new shard: the first node joins as its primary at term 1, the others as replicas', () => {
    const fresh = { a: st('a', { role: 'primary' }), b: st('b'), c: st('c') };
    expect(planJoin({ nodeId: 'a', nodes: NODES, states: fresh, viewTerm: 0 })).toEqual({ kind: 'join', term: 1, role: 'primary', primaryId: 'a' });
    expect(planJoin({ nodeId: 'b', nodes: NODES, states: fresh, viewTerm: 0 })).toEqual({ kind: 'join', term: 1, role: 'replica', primaryId: 'a' });
  });
  it('the order of joins at start-up does not matter (a joined replica at term 1 is still untouched)', () => {
    const states = { a: st('a', { role: 'primary' }), b: st('b', { joined: true, votedFor: '(joined)' }), c: st('c') };
    expect(planJoin({ nodeId: 'a', nodes: NODES, states, viewTerm: 0 })).toMatchObject({ role: 'primary', term: 1 });
  });
  it('the first node wiped after writes at term 1 joins as a replica: it must not come back as primary with an empty log', () => {
    const states = { a: st('a', { role: 'primary' }), b: st('b', { joined: true, lastSeq: 7, lastTerm: 1 }), c: st('c', { joined: true, lastSeq: 7, lastTerm: 1 }) };
    expect(planJoin({ nodeId: 'a', nodes: NODES, states, viewTerm: 1 })).toEqual({ kind: 'join', term: 1, role: 'replica', primaryId: null });
  });
  it('learns the highest term of the others and names their primary', () => {
    const states = { a: st('a'), b: st('b', { joined: true, term: 5, role: 'primary', primaryId: 'b', lastSeq: 9 }), c: st('c', { joined: true, term: 4 }) };
    expect(planJoin({ nodeId: 'a', nodes: NODES, states, viewTerm: 3 })).toEqual({ kind: 'join', term: 5, role: 'replica', primaryId: 'b' });
  });
  it('takes the router\'s view term when it is higher than what the others said', () => {
    const states = { a: st('a'), b: st('b', { joined: true, term: 2 }), c: st('c', { joined: true, term: 2 }) };
    expect(planJoin({ nodeId: 'a', nodes: NODES, states, viewTerm: 6 })).toMatchObject({ term: 6, role: 'replica' });
  });
  it('waits without a majority of the others: its own (forgotten) state is no evidence', () => {
    const states = { a: st('a', { term: 9 }), b: st('b', { joined: true, term: 2 }), c: null };
    expect(planJoin({ nodeId: 'a', nodes: NODES, states, viewTerm: 2 }).kind).toBe('wait');
  });
  it('a one-node shard joins at once (there is nobody to learn from, and nobody to disagree)', () => {
    expect(planJoin({ nodeId: 'a', nodes: ['a'], states: {}, viewTerm: 0 })).toEqual({ kind: 'join', term: 1, role: 'primary', primaryId: 'a' });
  });
});

describe('planJoin (property)', () => {
  it('learns at least every term a majority could have voted in, the joiner among the voters', () => {
    const world = fc.integer({ min: 3, max: 7 }).chain((n) => fc.record({
      n: fc.constant(n),
      terms: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: n - 1, maxLength: n - 1 }),
      answered: fc.array(fc.boolean(), { minLength: n - 1, maxLength: n - 1 }),
      voted: fc.integer({ min: 1, max: 9 }),
    }));
    fc.assert(fc.property(world, ({ n, terms, answered, voted }) => {
      const nodes = Array.from({ length: n }, (_, i) => `n${i}`);
      const joiner = nodes[1]!;
      const others = nodes.filter((id) => id !== joiner);
      const states = Object.fromEntries(others.map((id, i) => [id, answered[i] ? st(id, { term: terms[i]!, joined: true, lastSeq: 1 }) : null]));
      const plan = planJoin({ nodeId: joiner, nodes, states, viewTerm: 0 });
      if (plan.kind !== 'join') return;
      // A term `voted` was won (or voted) by a majority including the joiner: maj - 1 others reached it.
      const reached = terms.filter((t) => t >= voted).length;
      if (reached >= majority(n) - 1) expect(plan.term).toBeGreaterThanOrEqual(voted);
    }), { numRuns: 2000 });
  });
});
