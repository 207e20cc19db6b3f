import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { docModel, type DocInput, type DocOutput, type DocState } from '../../../src/check/index.ts';
import { A, B, C, conflict, create, del, notFound, ok, r1A, r2B, read, rev, storeWrite, tomb2, unknown, update } from './fixtures.ts';

// The model must do on every state exactly what the store's planWrite does
// (storeWrite in fixtures.ts calls it directly): same answer, same head
// afterwards (the store's #apply rule for parentRev and created), nothing
// else accepted.

const live1: DocState = { rev: r1A, parentRev: null, deleted: false, created: true };
const live2: DocState = { rev: r2B, parentRev: r1A, deleted: false, created: false };
const dead2: DocState = { rev: tomb2, parentRev: r1A, deleted: true, created: false };
const recreated3: DocState = { rev: rev(3, A), parentRev: tomb2, deleted: false, created: true };
const STATES: Array<[string, DocState]> = [['absent', null], ['1-A created', live1], ['2-B updated', live2], ['2 deleted', dead2], ['3-A re-created', recreated3]];

const INPUTS: DocInput[] = [
  create(A), create(B), update(r1A, B), update(r1A, C), update(r2B, C), update(tomb2, A), update(rev(3, A), B),
  del(r1A), del(r2B), del(tomb2), del(rev(3, A)),
];

/** Every answer a write could get, right or wrong, on any of STATES. */
function candidates(): DocOutput[] {
  const revs = new Set<string>([r1A, r2B, tomb2, rev(2, C), rev(3, A), rev(3, B), rev(4, B), rev(4, C), rev(3, { data: {}, deleted: true }), rev(4, { data: {}, deleted: true }), rev(1, B)]);
  return [conflict, notFound, ...[...revs].flatMap((r) => [ok(r), ok(r, 200), ok(r, 201)])];
}

describe('docModel against planWrite', () => {
  const table = STATES.flatMap(([name, s]) => INPUTS.map((input) => [name, docModel.describeOp!(input, unknown).replace(/ → unknown$/, ''), s, input] as const));
  it.each(table)('on %s: %s', (_name, _op, state, input) => {
    if (input.kind === 'read') throw new Error('writes only');
    const { answer, next } = storeWrite(state, input);
    expect(docModel.step(state, input, answer)).toEqual([next]);
    // The status may be left out (a client that did not keep it), never wrong.
    if (answer.kind === 'ok') expect(docModel.step(state, input, ok(answer.rev))).toEqual([next]);
    for (const other of candidates()) {
      const same = other.kind === answer.kind && (other.kind !== 'ok' || (answer.kind === 'ok' && other.rev === answer.rev && (other.status === undefined || other.status === answer.status)));
      if (!same) expect(docModel.step(state, input, other), `${JSON.stringify(other)} accepted`).toEqual([]);
    }
    expect(docModel.step(state, input, unknown)).toEqual(next === state ? [state] : [state, next]);
  });

  const named: Array<[string, DocState, DocInput, DocOutput, DocState]> = [
    ['a create answers 201 with 1-<hash>', null, create(A), ok(r1A, 201), live1],
    ['a re-sent create that took effect answers 201 again and writes nothing', live1, create(A), ok(r1A, 201), live1],
    ['a re-sent update that took effect answers 200 again', live2, update(r1A, B), ok(r2B, 200), live2],
    ['a re-sent update whose result was superseded conflicts', { rev: rev(3, C), parentRev: r2B, deleted: false, created: false }, update(r1A, B), conflict, { rev: rev(3, C), parentRev: r2B, deleted: false, created: false }],
    ['a re-sent delete answers with the tombstone rev', dead2, del(r1A), ok(tomb2, 200), dead2],
    ['re-create after delete continues n and counts as created', dead2, create(A), ok(rev(3, A), 201), recreated3],
    ['an update of a tombstone by its rev answers 201 and counts as created', dead2, update(tomb2, B), ok(rev(3, B), 201), { rev: rev(3, B), parentRev: tomb2, deleted: false, created: true }],
    ['deleting a tombstone is not_found', dead2, del(tomb2), notFound, dead2],
    ['deleting an absent doc is not_found', null, del(r1A), notFound, null],
    ['an update of an absent doc conflicts', null, update(r1A, B), conflict, null],
  ];
  it.each(named)('%s', (_name, state, input, output, next) => {
    expect(docModel.step(state, input, output)).toEqual([next]);
  });

  it('a put never answers not_found, whatever the state', () => {
    for (const [, s] of STATES) for (const input of INPUTS.filter((i) => i.kind === 'put')) expect(docModel.step(s, input, notFound)).toEqual([]);
  });

  it('a read sees the live head, or not_found for absent and deleted docs; it never changes the state', () => {
    expect(docModel.step(null, read, notFound)).toEqual([null]);
    expect(docModel.step(dead2, read, notFound)).toEqual([dead2]);
    expect(docModel.step(dead2, read, ok(tomb2))).toEqual([]);
    expect(docModel.step(live2, read, ok(r2B))).toEqual([live2]);
    expect(docModel.step(live2, read, ok(r1A))).toEqual([]);
    expect(docModel.step(live2, read, notFound)).toEqual([]);
    expect(docModel.step(live2, read, unknown)).toEqual([live2]);
  });

  it('state keys tell apart every field the rules read', () => {
    const keys = new Set([null, live1, live2, dead2, recreated3, { ...live1, created: false }, { ...live2, parentRev: null }].map((s) => docModel.key(s)));
    expect(keys.size).toBe(7);
  });

  it('explains a rejected step with the state and the answer it would give', () => {
    expect(docModel.explain!(live2, read, ok(r1A))).toMatch(/at 2-[0-9a-f]{8}, so it would answer ok 2-[0-9a-f]{8}, not ok 1-/);
    expect(docModel.explain!(live1, update(r1A, B), conflict)).toMatch(/would answer ok 2-[0-9a-f]{8} \(200\), not conflict/);
  });
});

// Over random write sequences, exactly one definite answer is accepted on each
// state, and it is planWrite's.
describe('docModel: properties', () => {
  const body = fc.constantFrom(A, B, C);
  const req = fc.oneof(
    fc.record({ kind: fc.constant('create' as const), body }),
    fc.record({ kind: fc.constant('update' as const), body, stale: fc.boolean() }),
    fc.record({ kind: fc.constant('delete' as const), stale: fc.boolean() }),
  );
  it('accepts exactly the answer planWrite gives, and moves to the head the store keeps', () => {
    fc.assert(fc.property(fc.array(req, { maxLength: 30 }), (reqs) => {
      let state: DocState = null;
      let previous: string = r1A;
      for (const r of reqs) {
        const from = r.kind !== 'create' && r.stale ? previous : state?.rev ?? r1A;
        const input: DocInput = r.kind === 'create' ? create(r.body) : r.kind === 'update' ? update(from, r.body) : del(from);
        if (input.kind === 'read') continue;
        const { answer, next } = storeWrite(state, input);
        const accepted = candidates().concat([answer]).filter((o) => docModel.step(state, input, o).length > 0);
        for (const o of accepted) expect(docModel.step(state, input, o)).toEqual([next]);
        expect(accepted.every((o) => o.kind === answer.kind && (o.kind !== 'ok' || (answer.kind === 'ok' && o.rev === answer.rev)))).toBe(true);
        if (state) previous = state.rev;
        state = next;
      }
    }), { numRuns: 200 });
  });
});
