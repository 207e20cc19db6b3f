import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkDocHistory, type DocInput, type DocOperation, type DocState } from '../../../src/check/index.ts';
import { A, B, C, create, del, NEVER, ok, read, storeWrite, unknown, update } from './fixtures.ts';

// Histories from a real sequential execution: op i takes effect at 10·i on
// the store's own rules, and the client sees it in a random window around
// that instant. Such a history is linearizable by construction, so the
// checker must say ok; with one read's answer replaced by a rev nobody ever
// wrote, it must say violation.

const SLOT = 10;

interface Action {
  doc: number;
  kind: 'create' | 'update' | 'delete' | 'read';
  body: typeof A;
  /** Name an older rev of the doc instead of the current one (a lagging client). */
  stale: number | null;
  /** Indeterminate: the client never learns the outcome; `applied` says what really happened. */
  lost: null | { applied: boolean };
  before: number;
  after: number;
}

const action: fc.Arbitrary<Action> = fc.record({
  doc: fc.integer({ min: 0, max: 1 }),
  kind: fc.constantFrom('create', 'create', 'update', 'update', 'update', 'update', 'delete', 'read', 'read', 'read'),
  body: fc.constantFrom(A, B, C),
  stale: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
  lost: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.record({ applied: fc.boolean() }) }),
  // Windows up to 6 slots on each side: several ops overlap each instant.
  before: fc.integer({ min: 0, max: 60 }),
  after: fc.integer({ min: 0, max: 60 }),
});

function execute(actions: readonly Action[]): DocOperation[] {
  const state: DocState[] = [null, null];
  const revs: string[][] = [[], []];
  const pendingPerDoc = [0, 0];
  return actions.map((a, i) => {
    const at = (i + 1) * SLOT;
    const s = state[a.doc]!;
    const known = revs[a.doc]!;
    const from = a.stale !== null && known.length > 0 ? known[a.stale % known.length]! : s?.rev ?? NEVER;
    const input: DocInput = a.kind === 'create' ? create(a.body) : a.kind === 'update' ? update(from, a.body) : a.kind === 'delete' ? del(from) : read;
    const key = `doc-${a.doc}`;
    const call = Math.max(0, at - a.before);
    if (input.kind === 'read') return { key, input, output: s === null || s.deleted ? { kind: 'not_found' } : ok(s.rev), call, return: at + a.after };
    const { answer, next } = storeWrite(s, input);
    // Few indeterminate ops per doc, or the search (rightly) runs out of budget.
    const lost = a.lost !== null && pendingPerDoc[a.doc]! < 3;
    if (!lost || a.lost!.applied) {
      state[a.doc] = next;
      if (next && next !== s) known.push(next.rev);
    }
    if (!lost) return { key, input, output: answer, call, return: at + a.after };
    pendingPerDoc[a.doc]!++;
    return { key, input, output: unknown, call, return: Infinity };
  });
}

describe('histories from real executions', () => {
  const histories = fc.array(action, { minLength: 1, maxLength: 60 }).map(execute);

  it('are always linearizable', () => {
    fc.assert(fc.property(histories, (history) => {
      const result = checkDocHistory(history);
      expect(result.status, result.report).toBe('ok');
    }), { numRuns: 300 });
  });

  it('are flagged once one read answers a rev nobody wrote', () => {
    fc.assert(fc.property(histories, fc.nat(), (history, pick) => {
      const reads = history.map((o, i) => [o, i] as const).filter(([o]) => o.input.kind === 'read');
      fc.pre(reads.length > 0);
      const [victim, at] = reads[pick % reads.length]!;
      const forged = history.with(at, { ...victim, output: ok(NEVER) });
      const result = checkDocHistory(forged);
      expect(result.status, result.report).toBe('violation');
      expect(result.keys.find((k) => k.key === victim.key)?.status).toBe('violation');
    }), { numRuns: 300 });
  });
});
