import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideReplicate, type ReplicaState, type TailEntry } from '../../../src/rules/replicate.ts';
import type { LogEntry, ReplicateRequest } from '../../../src/core/protocol.ts';

const entry = (seq: number, term: number): LogEntry => ({ seq, term, op: 'noop', db: '', id: '', rev: '', doc: null, ts: 0 });
/** Local log terms for seqs 1..n. */
function local(terms: number[], over: Partial<ReplicaState> = {}): { state: ReplicaState; tail: TailEntry[] } {
  const tail = terms.map((term, i) => ({ seq: i + 1, term, rev: '' }));
  const last = tail.at(-1) ?? { seq: 0, term: 0 };
  return {
    state: { self: 'r', term: 2, votedFor: null, role: 'replica', primaryId: 'p', lastSeq: last.seq, lastTerm: last.term, baseSeq: 0, baseTerm: 0, commitSeq: 0, needsSnapshot: false, ...over },
    tail,
  };
}
const req = (prevSeq: number, prevTerm: number, terms: number[], over: Partial<ReplicateRequest> = {}): ReplicateRequest => ({
  term: 2, primaryId: 'p', commitSeq: 0, prevSeq, prevTerm, entries: terms.map((t, i) => entry(prevSeq + 1 + i, t)), ...over,
});

describe('decideReplicate', () => {
  it('refuses a stale term', () => {
    const { state, tail } = local([1, 2]);
    expect(decideReplicate(state, tail, req(2, 2, [], { term: 1 }))).toMatchObject({ kind: 'stale_term', term: 2 });
  });

  it('a primary refuses a replicate of its own term (two primaries)', () => {
    const { state, tail } = local([1, 2], { role: 'primary', primaryId: 'r' });
    expect(decideReplicate(state, tail, req(2, 2, []))).toMatchObject({ kind: 'stale_term', term: 2, primaryId: 'r' });
  });

  it('a primary of a lower term steps down and adopts the sender', () => {
    const { state, tail } = local([1, 1], { role: 'primary', term: 1, votedFor: 'r' });
    expect(decideReplicate(state, tail, req(2, 1, [2]))).toMatchObject({ kind: 'apply', adopt: { term: 2, role: 'replica', primaryId: 'p', votedFor: null }, appendFrom: 0 });
  });

  it('gap with lastSeq when prevSeq is past the end', () => {
    const { state, tail } = local([1, 1]);
    expect(decideReplicate(state, tail, req(5, 2, [2]))).toMatchObject({ kind: 'gap', details: { lastSeq: 2, lastTerm: 1, mismatch: false } });
  });

  it('gap with mismatch when the term at prevSeq differs', () => {
    const { state, tail } = local([1, 1]);
    expect(decideReplicate(state, tail, req(2, 2, [2]))).toMatchObject({ kind: 'gap', details: { lastSeq: 2, mismatch: true } });
  });

  it('a node that needs a snapshot answers gap with needsSnapshot', () => {
    const { state, tail } = local([1], { needsSnapshot: true });
    expect(decideReplicate(state, tail, req(1, 1, [2]))).toMatchObject({ kind: 'gap', details: { needsSnapshot: true } });
  });

  it('a duplicate batch is a no-op', () => {
    const { state, tail } = local([1, 2, 2]);
    expect(decideReplicate(state, tail, req(1, 1, [2, 2]))).toMatchObject({ kind: 'apply', rollbackAfter: null, appendFrom: 2 });
  });

  it('a re-delivery is a no-op only when it is the same entry: another rev at the same (seq, term) is a divergence', () => {
    const { state, tail } = local([1, 2, 2]);
    tail[2]!.rev = '1-aaa';
    const same = req(2, 2, [2]);
    same.entries[0]!.rev = '1-aaa';
    expect(decideReplicate(state, tail, same)).toMatchObject({ kind: 'apply', rollbackAfter: null, appendFrom: 1 });
    // A forged entry took seq 3 first; the primary's real one must not be skipped as a re-delivery.
    const real = req(2, 2, [2, 2]);
    real.entries[0]!.rev = '1-bbb';
    const plan = decideReplicate(state, tail, real);
    expect(plan).toMatchObject({ kind: 'gap', diverged: true, details: { mismatch: true, needsSnapshot: true, lastSeq: 3 } });
    // The term is still adopted (the node learns the sender's term even when it refuses).
    expect(plan).toMatchObject({ adopt: { term: 2, primaryId: 'p' } });
  });

  it('appends the new part of an overlapping batch', () => {
    const { state, tail } = local([1, 2]);
    expect(decideReplicate(state, tail, req(1, 1, [2, 2, 2]))).toMatchObject({ kind: 'apply', rollbackAfter: null, appendFrom: 1, batchEnd: 4 });
  });

  it('a conflicting entry rolls back the local suffix from there', () => {
    const { state, tail } = local([1, 1, 1, 1]);
    expect(decideReplicate(state, tail, req(1, 1, [1, 2]))).toMatchObject({ kind: 'apply', rollbackAfter: 2, appendFrom: 1 });
  });

  it('truncate rolls back lower-term entries after the batch', () => {
    const { state, tail } = local([1, 1, 1, 1]);
    expect(decideReplicate(state, tail, req(1, 1, [1], { truncate: true }))).toMatchObject({ kind: 'apply', rollbackAfter: 2, appendFrom: 1 });
  });

  it('a late duplicate with truncate keeps later entries of the same term', () => {
    const { state, tail } = local([1, 2, 2, 2]);
    expect(decideReplicate(state, tail, req(1, 1, [2], { truncate: true }))).toMatchObject({ kind: 'apply', rollbackAfter: null });
  });

  it('never plans to roll back an entry of the sender\'s term', () => {
    const { state, tail } = local([1, 2, 2]);
    expect(() => decideReplicate(state, tail, req(1, 1, [1, 1]))).toThrow(/invariant/);
  });

  it('commitSeq rises to the sender\'s, capped at the batch end, never falls', () => {
    const { state, tail } = local([1, 1, 1, 1], { commitSeq: 1 });
    expect(decideReplicate(state, tail, req(1, 1, [1], { commitSeq: 9 }))).toMatchObject({ commitSeq: 2 });
    expect(decideReplicate({ ...state, commitSeq: 3 }, tail, req(1, 1, [1], { commitSeq: 9 }))).toMatchObject({ commitSeq: 3 });
  });

  it('entries below the log base are taken as matching (trimmed ones were committed)', () => {
    const { state, tail } = local([], { baseSeq: 10, baseTerm: 1, lastSeq: 10, lastTerm: 1 });
    expect(decideReplicate(state, tail, req(8, 1, [1, 1, 2]))).toMatchObject({ kind: 'apply', appendFrom: 2, batchEnd: 11 });
  });

  it('refuses a batch that is not contiguous', () => {
    const { state, tail } = local([1]);
    const bad = req(1, 1, [2, 2]);
    bad.entries[1]!.seq = 9;
    expect(decideReplicate(state, tail, bad)).toMatchObject({ kind: 'invalid' });
  });

  // Model check: a replica fed any prefix-consistent batches of the primary's
  // log (duplicates, overlaps, a diverged start) ends with exactly that log.
  it('converges to the primary\'s log from any diverged start', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 6 }).map((a) => a.sort()),
      fc.integer({ min: 0, max: 6 }),
      fc.integer({ min: 1, max: 4 }),
      (replicaTerms, primaryLen, batch) => {
        // Primary at term 3: shares a prefix of term-1 entries, then its own.
        const common = replicaTerms.filter((t) => t === 1).length;
        const primary = [...Array(common).fill(1), ...Array(primaryLen).fill(3)] as number[];
        let log = replicaTerms.map((term, i) => ({ seq: i + 1, term, rev: '' }));
        let match = 0;
        for (let guard = 0; guard < 50 && match < primary.length; guard++) {
          const prevSeq = Math.min(match, log.length);
          const slice = primary.slice(prevSeq, prevSeq + batch);
          const r: ReplicateRequest = {
            term: 3, primaryId: 'p', commitSeq: 0, prevSeq, prevTerm: prevSeq === 0 ? 0 : primary[prevSeq - 1]!,
            entries: slice.map((t, i) => entry(prevSeq + 1 + i, t)), truncate: prevSeq + slice.length === primary.length,
          };
          const last = log.at(-1) ?? { seq: 0, term: 0 };
          const plan = decideReplicate({ self: 'r', term: 2, votedFor: null, role: 'replica', primaryId: null, lastSeq: last.seq, lastTerm: last.term, baseSeq: 0, baseTerm: 0, commitSeq: 0, needsSnapshot: false },
            log.filter((e) => e.seq >= Math.max(prevSeq, 1)), r);
          if (plan.kind === 'gap') {
            match = Math.max(0, prevSeq - 1);
            continue;
          }
          expect(plan.kind).toBe('apply');
          if (plan.kind !== 'apply') return;
          if (plan.rollbackAfter !== null) log = log.filter((e) => e.seq <= plan.rollbackAfter!);
          for (const e of r.entries.slice(plan.appendFrom)) log.push({ seq: e.seq, term: e.term, rev: e.rev });
          match = plan.batchEnd;
        }
        if (primary.length === 0) return;
        expect(log.map((e) => e.term)).toEqual(primary);
      },
    ), { numRuns: 500 });
  });
});
