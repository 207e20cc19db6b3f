import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideVote, type VoterState } from '../../../src/rules/vote.ts';

const voter = (s: Partial<VoterState> = {}): VoterState => ({ term: 3, votedFor: null, lastSeq: 10, lastTerm: 3, ...s });

describe('decideVote', () => {
  it.each([
    ['grants an up-to-date candidate a higher term and steps down', voter(), { term: 4, candidateId: 'b', lastTerm: 3, lastSeq: 10 }, { granted: true, term: 4, votedFor: 'b', stepDown: true }],
    ['refuses a stale term', voter(), { term: 2, candidateId: 'b', lastTerm: 9, lastSeq: 99 }, { granted: false, term: 3, votedFor: null, stepDown: false }],
    ['refuses a second candidate in the same term', voter({ term: 4, votedFor: 'b' }), { term: 4, candidateId: 'c', lastTerm: 3, lastSeq: 10 }, { granted: false, term: 4, votedFor: 'b', stepDown: false }],
    ['grants the same candidate again (retry)', voter({ term: 4, votedFor: 'b' }), { term: 4, candidateId: 'b', lastTerm: 3, lastSeq: 10 }, { granted: true, term: 4, votedFor: 'b', stepDown: false }],
    ['refuses a shorter log of the same last term', voter(), { term: 4, candidateId: 'b', lastTerm: 3, lastSeq: 9 }, { granted: false, term: 4, votedFor: null, stepDown: true }],
    ['refuses a log of a lower last term even if longer', voter(), { term: 4, candidateId: 'b', lastTerm: 2, lastSeq: 50 }, { granted: false, term: 4, votedFor: null, stepDown: true }],
    ['grants a log of a higher last term even if shorter', voter(), { term: 4, candidateId: 'b', lastTerm: 4, lastSeq: 1 }, { granted: true, term: 4, votedFor: 'b', stepDown: true }],
  ] as const)('%s', (_n, state, req, expected) => {
    expect(decideVote(state, req)).toMatchObject(expected);
  });

  it.each([
    ['a fresh data dir not joined yet refuses and keeps its term', voter({ joined: false }), { term: 4, candidateId: 'b', lastTerm: 3, lastSeq: 10 }, { granted: false, term: 3, votedFor: null, stepDown: false }],
    ['a joined node at its join term refuses: it may have voted there before it was wiped', voter({ votedFor: '(joined)' }), { term: 3, candidateId: 'b', lastTerm: 3, lastSeq: 10 }, { granted: false, term: 3, stepDown: false }],
    ['...and votes in the next term', voter({ votedFor: '(joined)' }), { term: 4, candidateId: 'b', lastTerm: 3, lastSeq: 10 }, { granted: true, term: 4, votedFor: 'b', stepDown: true }],
    ['a replica that heard of its live primary lately refuses, without taking the term', voter({ primaryHeardMsAgo: 300, stickyMs: 800 }), { term: 4, candidateId: 'b', lastTerm: 3, lastSeq: 10 }, { granted: false, term: 3, stepDown: false }],
    ['...unless the primary has been silent for the sticky window', voter({ primaryHeardMsAgo: 900, stickyMs: 800 }), { term: 4, candidateId: 'b', lastTerm: 3, lastSeq: 10 }, { granted: true, term: 4, stepDown: true }],
    ['...or it never heard of one since it started', voter({ primaryHeardMsAgo: null, stickyMs: 800 }), { term: 4, candidateId: 'b', lastTerm: 3, lastSeq: 10 }, { granted: true, term: 4 }],
    ['...or the switchover is planned (force)', voter({ primaryHeardMsAgo: 10, stickyMs: 800 }), { term: 4, candidateId: 'b', lastTerm: 3, lastSeq: 10, force: true }, { granted: true, term: 4, stepDown: true }],
    ['a primary (perhaps restarted from an old term) is deposed by a higher-term vote: nobody is sticky for it', voter({ primaryHeardMsAgo: null, stickyMs: 800 }), { term: 4, candidateId: 'b', lastTerm: 3, lastSeq: 10 }, { granted: true, term: 4, stepDown: true }],
  ] as const)('%s', (_n, state, req, expected) => {
    expect(decideVote(state, req)).toMatchObject(expected);
  });

  it('a refusal by stickiness or an unjoined voter never changes the voter (no term taken)', () => {
    const req = fc.record({ term: fc.integer({ min: 1, max: 9 }), candidateId: fc.constantFrom('a', 'b'), lastTerm: fc.integer({ min: 0, max: 9 }), lastSeq: fc.nat(20) });
    const state = fc.record({
      term: fc.integer({ min: 1, max: 9 }), votedFor: fc.constantFrom(null, 'a', 'b'), lastSeq: fc.nat(20), lastTerm: fc.integer({ min: 0, max: 9 }),
      joined: fc.boolean(), primaryHeardMsAgo: fc.option(fc.nat(2000)), stickyMs: fc.constant(800),
    });
    fc.assert(fc.property(state, req, (s, r) => {
      const d = decideVote(s, r);
      const sticky = !s.joined || (s.primaryHeardMsAgo !== null && s.primaryHeardMsAgo < 800);
      if (sticky && (r.term > s.term || !s.joined)) expect(d).toMatchObject({ granted: false, term: s.term, votedFor: s.votedFor, stepDown: false });
    }), { numRuns: 1000 });
  });

  it('never grants two candidates the same term, whatever the request order', () => {
    const req = fc.record({ term: fc.integer({ min: 1, max: 4 }), candidateId: fc.constantFrom('a', 'b', 'c'), lastTerm: fc.integer({ min: 0, max: 4 }), lastSeq: fc.integer({ min: 0, max: 5 }) });
    fc.assert(fc.property(fc.array(req, { maxLength: 30 }), (reqs) => {
      let s: VoterState = { term: 1, votedFor: null, lastSeq: 2, lastTerm: 1 };
      const granted = new Map<number, string>();
      for (const r of reqs) {
        const d = decideVote(s, r);
        expect(d.term).toBeGreaterThanOrEqual(s.term);
        if (d.granted) {
          const prior = granted.get(r.term);
          expect(prior === undefined || prior === r.candidateId).toBe(true);
          granted.set(r.term, r.candidateId);
          expect(r.lastTerm > s.lastTerm || (r.lastTerm === s.lastTerm && r.lastSeq >= s.lastSeq)).toBe(true);
        }
        s = { ...s, term: d.term, votedFor: d.votedFor };
      }
    }), { numRuns: 500 });
  });
});
