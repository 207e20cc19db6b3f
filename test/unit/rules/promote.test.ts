import { describe, expect, it } from 'vitest';
import { decidePromote, type PromoterState } from '../../../src/rules/promote.ts';

const voted: PromoterState = { self: 'b', term: 3, votedFor: 'b', role: 'replica' };

describe('decidePromote (table)', () => {
  const cases: Array<{ name: string; state: PromoterState; term: number; want: string }> = [
    { name: 'its own vote at its term: promote', state: voted, term: 3, want: 'promote' },
    { name: 'a repeated promote of the primary of that term changes nothing', state: { ...voted, role: 'primary' }, term: 3, want: 'already' },
    { name: 'voted for another node', state: { ...voted, votedFor: 'c' }, term: 3, want: 'refuse' },
    { name: 'no vote at all', state: { ...voted, votedFor: null }, term: 3, want: 'refuse' },
    { name: 'a term the node is not at (older)', state: voted, term: 2, want: 'refuse' },
    { name: 'a term the node has not reached (newer): it never voted there', state: voted, term: 4, want: 'refuse' },
    { name: 'the primary of an older term asked for a newer one', state: { ...voted, role: 'primary' }, term: 4, want: 'refuse' },
  ];
  for (const c of cases) it(c.name, () => expect(decidePromote(c.state, c.term).kind).toBe(c.want));
});
