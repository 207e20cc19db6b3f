import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { TesseraError } from '../../src/core/errors.ts';
import type { Doc } from '../../src/core/protocol.ts';
import { Store } from '../../shard/store/index.ts';

// Model-style checks over random histories: whatever mix of writes (some
// refused), the log stays contiguous and term-stamped, and replaying it on
// another node — including a node whose own log diverged and is rolled back —
// gives the very same documents.

const root = mkdtempSync(join(tmpdir(), 'tessera-shard-model-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
const fresh = (nodeId: string, role: 'primary' | 'replica' = 'replica') =>
  new Store({ path: join(root, `${nodeId}-${n++}.db`), nodeId, shardId: 0, initial: { role, primaryId: 'n1', joined: true }, walRetention: 100000, synchronous: 'OFF' });

type Op =
  | { k: 'put'; db: number; id: number; v: number; useRev: 'current' | 'none' | 'stale' }
  | { k: 'del'; db: number; id: number; useRev: 'current' | 'stale' }
  | { k: 'db'; db: number; drop: boolean }
  | { k: 'bulk'; db: number; ids: number[]; v: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('put' as const), db: fc.nat(1), id: fc.nat(4), v: fc.nat(3), useRev: fc.constantFrom('current' as const, 'none' as const, 'stale' as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('del' as const), db: fc.nat(1), id: fc.nat(4), useRev: fc.constantFrom('current' as const, 'stale' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('db' as const), db: fc.nat(1), drop: fc.constantFrom(false, false, true) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('bulk' as const), db: fc.nat(1), ids: fc.array(fc.nat(4), { maxLength: 3 }), v: fc.nat(3) }) },
);

const dbName = (i: number) => `db${i}`;
/** Histories start with both dbs, so most writes land (and some are refused). */
const CREATE_BOTH: Op[] = [{ k: 'db', db: 0, drop: false }, { k: 'db', db: 1, drop: false }];
const STALE = '1-0000000000000000000000000000000000000000';

function currentRev(s: Store, db: string, id: string): string | undefined {
  // As of the end of the log: the model drives one store alone, with no router to tell it a commit point.
  const at = s.last().seq;
  let body: string | null = null;
  try {
    body = s.getDoc(db, id, undefined, at).body;
  } catch {
    // no such db: the listing below says so
  }
  if (body !== null) return (JSON.parse(body) as Doc).rev;
  const all = JSON.parse(s.allDocsJson(db, { skip: 0, limit: 1000, includeDeleted: true }, at)) as { items: Doc[] };
  return all.items.find((d) => d.id === id)?.rev;
}

function apply(s: Store, op: Op): void {
  const db = dbName(op.db);
  try {
    switch (op.k) {
      case 'db':
        if (op.drop) s.deleteDb(db);
        else s.createDb(db);
        return;
      case 'put': {
        const rev = op.useRev === 'none' ? undefined : op.useRev === 'stale' ? STALE : currentRev(s, db, `d${op.id}`);
        s.putDoc(db, `d${op.id}`, rev, { data: { v: op.v }, content: `word${op.v}` });
        return;
      }
      case 'del':
        s.deleteDoc(db, `d${op.id}`, op.useRev === 'stale' ? STALE : currentRev(s, db, `d${op.id}`) ?? STALE);
        return;
      case 'bulk':
        s.bulk(db, op.ids.map((i) => ({ id: `d${i}`, data: { v: op.v } })), () => 'gen');
        return;
    }
  } catch (err) {
    if (!(err instanceof TesseraError)) throw err; // refusals are part of the history
  }
}

/** Every db and doc with the seq, parent rev and created flag behind it. */
function everything(s: Store): string[] {
  return [...s.snapshotLines()];
}

describe('Store over random histories', () => {
  it('keeps the log contiguous and a replica replaying it identical', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
      const p = fresh('n1', 'primary');
      const r = fresh('n2');
      try {
        for (const op of [...CREATE_BOTH, ...ops]) apply(p, op);
        const log = p.entries(0);
        expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
        expect(log.every((e) => e.term === 1)).toBe(true);
        r.replicate({ term: 1, primaryId: 'n1', commitSeq: 0, prevSeq: 0, prevTerm: 0, entries: log, truncate: true });
        // Same heads, seqs, parent revs and created flags: a replica promoted
        // later recognises idempotent retries exactly like this primary.
        expect(everything(r)).toEqual(everything(p));
        expect(r.entries(0)).toEqual(log);
      } finally {
        p.close();
        r.close();
      }
    }), { numRuns: 40 });
  });

  it('an old primary that wrote on alone converges to the new primary after rollback', () => {
    fc.assert(fc.property(
      fc.array(opArb, { maxLength: 20 }), fc.array(opArb, { maxLength: 10 }), fc.array(opArb, { maxLength: 10 }),
      (shared, lost, next) => {
        const a = fresh('n1', 'primary');
        const b = fresh('n2');
        try {
          for (const op of [...CREATE_BOTH, ...shared]) apply(a, op);
          const base = a.state().lastSeq;
          if (base > 0) b.replicate({ term: 1, primaryId: 'n1', commitSeq: base, prevSeq: 0, prevTerm: 0, entries: a.entries(0), truncate: true });
          for (const op of lost) apply(a, op); // never replicated
          b.vote({ term: 2, candidateId: 'n2', lastTerm: b.state().lastTerm, lastSeq: b.state().lastSeq });
          b.promote({ term: 2 });
          for (const op of next) apply(b, op);
          const prevTerm = base === 0 ? 0 : b.entries(base - 1, 1)[0]!.term;
          const aheadOfBase = a.state().lastSeq - base;
          try {
            a.replicate({ term: 2, primaryId: 'n2', commitSeq: base, prevSeq: base, prevTerm, entries: b.entries(base), truncate: true });
          } catch (err) {
            // A rolled-back db_delete needs a snapshot: the documented way out.
            expect(err).toMatchObject({ code: 'gap', details: { needsSnapshot: true } });
            a.installSnapshot([...b.snapshotLines()].join('').trim().split('\n').map((l) => JSON.parse(l)), 2, 'n2');
            expect(everything(a)).toEqual(everything(b));
            return;
          }
          expect(a.entries(0)).toEqual(b.entries(0));
          expect(everything(a)).toEqual(everything(b));
          // Every entry the old primary wrote alone was moved to the rollback table.
          expect(a.state().rollbackCount).toBe(aheadOfBase);
        } finally {
          a.close();
          b.close();
        }
      },
    ), { numRuns: 40 });
  });
});
