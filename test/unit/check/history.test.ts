import { describe, expect, it } from 'vitest';
import { checkDocHistory, classifyReadAnswer, classifyWriteAnswer, HistoryRecorder, type Discard, type DocOutput, type NoAnswer } from '../../../src/check/index.ts';
import { A, B, create, r1A, r2B, read, update } from './fixtures.ts';

const discard = { kind: 'discard' } as const;

describe('classifyWriteAnswer (DESIGN §4)', () => {
  const cases: Array<[string, number | NoAnswer, unknown, Partial<DocOutput | Discard>]> = [
    ['201 created', 201, { id: 'x', rev: r1A, data: {} }, { kind: 'ok', rev: r1A, status: 201 }],
    ['200 updated (return=minimal)', 200, { ok: true, id: 'x', rev: r2B, seq: 4, shard: 0, acks: 2 }, { kind: 'ok', rev: r2B, status: 200 }],
    ['409 conflict', 409, { ok: false, error: 'conflict', message: 'm' }, { kind: 'conflict' }],
    ['404 not_found', 404, { ok: false, error: 'not_found', message: 'm' }, { kind: 'not_found' }],
    ['400 bad_request changed nothing', 400, { ok: false, error: 'bad_request' }, discard],
    ['413 payload_too_large changed nothing', 413, { ok: false, error: 'payload_too_large' }, discard],
    ['422 idempotency_key_reused changed nothing', 422, { ok: false, error: 'idempotency_key_reused' }, discard],
    ['503 no_primary not_applied did not happen', 503, { ok: false, error: 'no_primary', outcome: 'not_applied', shard: 0 }, discard],
    ['503 quorum_not_met is indeterminate', 503, { ok: false, error: 'quorum_not_met', outcome: 'indeterminate', acks: 1, required: 2 }, { kind: 'unknown' }],
    ['a 503 that does not say not_applied may have happened', 503, { ok: false, error: 'unavailable' }, { kind: 'unknown' }],
    ['500 internal may have happened', 500, { ok: false, error: 'internal' }, { kind: 'unknown' }],
    ['409 not_primary from a node was refused', 409, { ok: false, error: 'not_primary' }, discard],
    ['a timeout is unknown', 'timeout', undefined, { kind: 'unknown' }],
    ['a network error is unknown', 'network_error', undefined, { kind: 'unknown' }],
  ];
  it.each(cases)('%s', (_name, status, body, expected) => {
    expect(classifyWriteAnswer(status, body)).toMatchObject(expected);
  });

  it('a success without a valid rev is a broken server: it throws', () => {
    expect(() => classifyWriteAnswer(201, { ok: true })).toThrow(/without a valid rev/);
    expect(() => classifyWriteAnswer(200, { rev: 'nope' })).toThrow(/without a valid rev/);
  });
});

describe('classifyReadAnswer', () => {
  it('keeps what a read saw and drops reads that saw nothing', () => {
    expect(classifyReadAnswer(200, { id: 'x', rev: r1A, data: {} })).toEqual({ kind: 'ok', rev: r1A });
    expect(classifyReadAnswer(404, { error: 'not_found' })).toEqual({ kind: 'not_found' });
    for (const status of [503, 500, 'timeout', 'network_error'] as const) expect(classifyReadAnswer(status, {}).kind).toBe('discard');
  });
});

/** A clock the test moves by hand (STYLE §2). */
function manualClock(): { now: () => number; at: (t: number) => void } {
  let t = 0;
  return { now: () => t, at: (v) => { t = v; } };
}

describe('HistoryRecorder', () => {
  it('stamps call and return times, and an unknown outcome returns at Infinity', () => {
    const clock = manualClock();
    const rec = new HistoryRecorder(clock.now);
    clock.at(1);
    const a = rec.invoke('x', create(A), 'c1');
    clock.at(2);
    const b = rec.invoke('x', update(r1A, B), 'c2');
    clock.at(5);
    rec.complete(a, classifyWriteAnswer(201, { rev: r1A }));
    clock.at(9);
    rec.complete(b, classifyWriteAnswer(503, { error: 'quorum_not_met', outcome: 'indeterminate' }));
    expect(rec.history()).toEqual([
      { key: 'x', input: create(A), output: { kind: 'ok', rev: r1A, status: 201 }, call: 1, return: 5, client: 'c1' },
      { key: 'x', input: update(r1A, B), output: { kind: 'unknown' }, call: 2, return: Infinity, client: 'c2' },
    ]);
  });

  it('drops ops that did not happen and reads that saw nothing, and counts them', () => {
    const rec = new HistoryRecorder(manualClock().now);
    rec.complete(rec.invoke('x', create(A)), classifyWriteAnswer(503, { error: 'no_primary', outcome: 'not_applied' }));
    rec.complete(rec.invoke('x', create(A)), classifyWriteAnswer(400, { error: 'bad_request' }));
    rec.complete(rec.invoke('x', read), classifyReadAnswer('timeout'));
    rec.complete(rec.invoke('x', read), { kind: 'unknown' });
    expect(rec.history()).toEqual([]);
    expect(rec.discarded).toBe(4);
  });

  it('a write still in flight when the history is taken is unknown; a read in flight is left out', () => {
    const rec = new HistoryRecorder(manualClock().now);
    rec.invoke('x', create(A));
    rec.invoke('x', read);
    expect(rec.history()).toEqual([{ key: 'x', input: create(A), output: { kind: 'unknown' }, call: 0, return: Infinity }]);
  });

  it('refuses a second completion, a foreign handle and a clock that goes back', () => {
    const clock = manualClock();
    const rec = new HistoryRecorder(clock.now);
    const h = rec.invoke('x', read);
    rec.complete(h, { kind: 'not_found' });
    expect(() => rec.complete(h, { kind: 'not_found' })).toThrow(/already completed/);
    expect(() => new HistoryRecorder().complete(h, { kind: 'not_found' })).toThrow(/another recorder/);
    clock.at(10);
    const late = rec.invoke('x', read);
    clock.at(3);
    expect(() => rec.complete(late, { kind: 'not_found' })).toThrow(/clock went back/);
  });

  it('records with performance.now() by default, and its history checks', () => {
    const rec = new HistoryRecorder();
    rec.complete(rec.invoke('x', create(A)), classifyWriteAnswer(201, { rev: r1A }));
    rec.complete(rec.invoke('x', read), classifyReadAnswer(200, { rev: r1A }));
    const [first] = rec.history();
    expect(first!.call).toBeGreaterThan(0);
    expect(checkDocHistory(rec.history()).status).toBe('ok');
  });
});
