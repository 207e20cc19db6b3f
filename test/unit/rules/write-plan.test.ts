import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeRev, revGeneration } from '../../../src/core/doc/rev.ts';
import { planWrite, type Head, type WritePlan } from '../../../src/rules/write-plan.ts';

const A = { data: { a: 1 } };
const B = { data: { a: 2 } };
const r1A = computeRev(1, A);
const r2B = computeRev(2, B);
const tomb2 = computeRev(2, { data: {}, deleted: true });

const head = (h: Partial<Head> & Pick<Head, 'rev'>): Head => ({ deleted: false, parentRev: null, created: true, seq: 7, ...h });

describe('planWrite: revision rules', () => {
  const cases: Array<[string, Head | null, Parameters<typeof planWrite>[1], WritePlan | ((p: WritePlan) => void)]> = [
    ['new doc gets 1-<hash>, 201', null, { kind: 'put', id: 'x', body: A }, { kind: 'write', status: 201, doc: { id: 'x', rev: r1A, data: { a: 1 } } }],
    ['update with current rev → n+1, 200', head({ rev: r1A }), { kind: 'put', id: 'x', rev: r1A, body: B },
      { kind: 'write', status: 200, doc: { id: 'x', rev: r2B, data: { a: 2 } } }],
    ['update with a stale rev → conflict', head({ rev: r2B, parentRev: r1A, created: false }), { kind: 'put', id: 'x', rev: '1-0000000000000000000000000000000000000000', body: B },
      (p) => expect(p.kind).toBe('conflict')],
    ['update of a missing doc → conflict', null, { kind: 'put', id: 'x', rev: r1A, body: B }, (p) => expect(p.kind).toBe('conflict')],
    ['put without rev on a live doc → conflict', head({ rev: r1A }), { kind: 'put', id: 'x', body: B }, (p) => expect(p.kind).toBe('conflict')],
    ['retry of a create (same content) → 201, original seq', head({ rev: r1A }), { kind: 'put', id: 'x', body: A }, { kind: 'retry', status: 201, seq: 7 }],
    ['retry of an update → 200, original seq', head({ rev: r2B, parentRev: r1A, created: false }), { kind: 'put', id: 'x', rev: r1A, body: B }, { kind: 'retry', status: 200, seq: 7 }],
    ['superseded retry (other content) → conflict', head({ rev: r2B, parentRev: r1A, created: false }), { kind: 'put', id: 'x', rev: r1A, body: { data: { a: 3 } } },
      (p) => expect(p.kind).toBe('conflict')],
    ['delete with current rev → tombstone n+1', head({ rev: r1A }), { kind: 'delete', id: 'x', rev: r1A },
      { kind: 'write', status: 200, doc: { id: 'x', rev: tomb2, deleted: true, data: {} } }],
    ['delete retry → 200 original seq', head({ rev: tomb2, deleted: true, parentRev: r1A, created: false }), { kind: 'delete', id: 'x', rev: r1A }, { kind: 'retry', status: 200, seq: 7 }],
    ['delete of a missing doc → not_found', null, { kind: 'delete', id: 'x', rev: r1A }, (p) => expect(p.kind).toBe('not_found')],
    ['delete of a tombstone by its rev → not_found', head({ rev: tomb2, deleted: true, parentRev: r1A, created: false }), { kind: 'delete', id: 'x', rev: tomb2 },
      (p) => expect(p.kind).toBe('not_found')],
    ['delete with stale rev → conflict', head({ rev: r2B, parentRev: r1A, created: false }), { kind: 'delete', id: 'x', rev: r1A }, (p) => expect(p.kind).toBe('conflict')],
    ['re-create after delete continues n', head({ rev: tomb2, deleted: true, parentRev: r1A, created: false }), { kind: 'put', id: 'x', body: A },
      { kind: 'write', status: 201, doc: { id: 'x', rev: computeRev(3, A), data: { a: 1 } } }],
  ];
  it.each(cases)('%s', (_name, h, req, expected) => {
    const plan = planWrite(h, req);
    if (typeof expected === 'function') expected(plan);
    else expect(plan).toEqual(expected);
  });

  it('tags and content are part of the stored doc and of the rev', () => {
    const plan = planWrite(null, { kind: 'put', id: 'x', body: { data: {}, tags: ['t'], content: 'c' } });
    expect(plan).toMatchObject({ kind: 'write', doc: { tags: ['t'], content: 'c' } });
    const other = planWrite(null, { kind: 'put', id: 'x', body: { data: {}, tags: ['u'], content: 'c' } });
    expect((plan as { doc: { rev: string } }).doc.rev).not.toBe((other as { doc: { rev: string } }).doc.rev);
  });
});

// A model of a document history: any sequence of writes, each re-sent at
// random. Re-sending the last write must be answered as a retry with the same
// status, and the generation must grow by one per effective write.
describe('planWrite: properties', () => {
  const body = fc.record({ data: fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }) });
  const op = fc.oneof(
    fc.record({ kind: fc.constant('put' as const), withRev: fc.boolean(), body }),
    fc.record({ kind: fc.constant('delete' as const) }),
  );
  it('retries are idempotent and generations count effective writes', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
      let h = null as Head | null;
      let writes = 0;
      let seq = 0;
      for (const o of ops) {
        const req = o.kind === 'delete'
          ? { kind: 'delete' as const, id: 'x', rev: h?.rev ?? '1-x' }
          : { kind: 'put' as const, id: 'x', ...(o.withRev && h ? { rev: h.rev } : {}), body: o.body };
        const plan = planWrite(h, req);
        if (plan.kind !== 'write') continue;
        writes++;
        seq++;
        expect(revGeneration(plan.doc.rev)).toBe(writes);
        const prev: Head | null = h;
        h = { rev: plan.doc.rev, deleted: plan.doc.deleted === true, parentRev: prev?.rev ?? null, created: !prev || prev.deleted, seq };
        const again = planWrite(h, req);
        expect(again).toEqual({ kind: 'retry', status: plan.status, seq });
      }
    }), { numRuns: 300 });
  });

  it('the same change made twice yields the same rev', () => {
    fc.assert(fc.property(body, (b) => {
      const x = planWrite(null, { kind: 'put', id: 'a', body: b });
      const y = planWrite(null, { kind: 'put', id: 'a', body: structuredClone(b) });
      expect(x).toEqual(y);
    }));
  });
});
