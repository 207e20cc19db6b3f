import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory, checkKey, type Model, type Operation } from '../../../src/check/index.ts';

// The search on a small register, checked against hand-worked histories and
// against a brute-force twin that tries every order (STYLE §3).

type In = { kind: 'write'; v: number } | { kind: 'read' } | { kind: 'cas'; from: number; to: number } | { kind: 'scramble' };
type Out = { kind: 'ok'; v?: number } | { kind: 'failed' } | { kind: 'unknown' };
type Op = Operation<In, Out>;

/** `scramble` leaves 1 or 2, nobody knows which: a nondeterministic step even when answered. */
const register: Model<number, In, Out> = {
  init: () => 0,
  step(s, input, output) {
    const effects = ((): Array<{ out: Out; next: number }> => {
      switch (input.kind) {
        case 'write': return [{ out: { kind: 'ok' }, next: input.v }];
        case 'read': return [{ out: { kind: 'ok', v: s }, next: s }];
        case 'cas': return [s === input.from ? { out: { kind: 'ok' }, next: input.to } : { out: { kind: 'failed' }, next: s }];
        case 'scramble': return [{ out: { kind: 'ok' }, next: 1 }, { out: { kind: 'ok' }, next: 2 }];
      }
    })();
    if (output.kind === 'unknown') return [s, ...effects.map((e) => e.next)];
    const v = (o: Out): number | undefined => (o.kind === 'ok' ? o.v : undefined);
    return effects.filter((e) => e.out.kind === output.kind && v(e.out) === v(output)).map((e) => e.next);
  },
  key: (s) => String(s),
  describeOp: (i, o) => `${i.kind}${'v' in i ? `(${i.v})` : i.kind === 'cas' ? `(${i.from}→${i.to})` : ''} → ${o.kind}${'v' in o && o.v !== undefined ? ` ${o.v}` : ''}`,
  explain: (s) => `the register holds ${s}`,
};

const w = (v: number, call: number, ret: number, key = 'k'): Op => ({ key, input: { kind: 'write', v }, output: { kind: 'ok' }, call, return: ret });
const r = (v: number, call: number, ret: number, key = 'k'): Op => ({ key, input: { kind: 'read' }, output: { kind: 'ok', v }, call, return: ret });
const pendingWrite = (v: number, call: number, key = 'k'): Op => ({ key, input: { kind: 'write', v }, output: { kind: 'unknown' }, call, return: Infinity });

describe('checkHistory on hand-written histories', () => {
  const cases: Array<[string, 'ok' | 'violation', Op[]]> = [
    ['an empty history', 'ok', []],
    ['a sequential history', 'ok', [w(1, 0, 1), r(1, 2, 3), w(2, 4, 5), r(2, 6, 7)]],
    ['a sequential stale read', 'violation', [w(1, 0, 1), w(2, 2, 3), r(1, 4, 5)]],
    ['a read overlapping a write may see the old value', 'ok', [w(1, 0, 1), w(2, 2, 10), r(1, 3, 4)]],
    ['a read overlapping a write may see the new value', 'ok', [w(1, 0, 1), w(2, 2, 10), r(2, 3, 4)]],
    ['the new value seen, then the old one: no order explains it', 'violation', [w(1, 0, 1), w(2, 2, 10), r(2, 3, 4), r(1, 5, 6)]],
    ['intervals are closed: ops that touch at one instant overlap', 'ok', [w(1, 0, 10), r(0, 10, 20)]],
    ['but not when they are apart', 'violation', [w(1, 0, 10), r(0, 10.001, 20)]],
    ['a pending write may take effect long after it was sent', 'ok', [pendingWrite(1, 0), r(0, 1, 2), r(0, 3, 4), r(1, 50, 51)]],
    ['a pending write may never take effect', 'ok', [pendingWrite(1, 0), r(0, 1, 2), r(0, 100, 101)]],
    ['a pending write takes effect once', 'violation', [pendingWrite(1, 0), w(2, 1, 2), r(1, 3, 4), r(2, 5, 6), r(1, 7, 8)]],
    ['a value nobody wrote', 'violation', [w(1, 0, 1), r(3, 0, 5)]],
    ['a failed cas is checked, not discarded', 'violation', [w(1, 0, 1), { key: 'k', input: { kind: 'cas', from: 1, to: 2 }, output: { kind: 'failed' }, call: 2, return: 3 }]],
    ['a scramble tries both outcomes', 'ok', [{ key: 'k', input: { kind: 'scramble' }, output: { kind: 'ok' }, call: 0, return: 1 }, r(2, 2, 3)]],
  ];
  it.each(cases)('%s: %s', (_name, status, ops) => {
    const result = checkHistory(register, ops);
    expect(result.status, result.report).toBe(status);
  });

  it('checks keys independently and reports the one that fails', () => {
    const result = checkHistory(register, [w(1, 0, 1, 'a'), w(1, 0, 1, 'b'), r(1, 2, 3, 'a'), r(0, 2, 3, 'b'), r(1, 4, 5, 'c')]);
    expect(result.status).toBe('violation');
    expect(Object.fromEntries(result.keys.map((k) => [k.key, k.status]))).toEqual({ a: 'ok', b: 'violation', c: 'violation' });
    expect(result.report).toMatch(/^violation: 3 keys, 5 ops \(1 ok, 2 violation, 0 unknown\)/);
    expect(result.report).toContain('key "b": violation');
    expect(result.report).not.toContain('key "a"');
  });

  it('a violation names the longest prefix, the deadline and why each candidate fails', () => {
    const stale = r(1, 4, 5);
    const v = checkKey(register, 'k', [w(1, 0, 1), w(2, 2, 3), stale]);
    if (v.status !== 'violation') throw new Error(v.report);
    expect(v.violation.prefix.map((p) => [p.op.input, p.state])).toEqual([[{ kind: 'write', v: 1 }, '1'], [{ kind: 'write', v: 2 }, '2']]);
    expect(v.violation.deadline).toBe(stale);
    expect(v.violation.unplaceable).toEqual([{ op: stale, why: 'the register holds 2' }]);
    expect(v.report).toContain('longest linearizable prefix (2 of 3 ops)');
    expect(v.report).toContain('[4.0, 5.0] read → ok 1: the register holds 2');
  });

  it('a witness is returned for an ok history, leaving out pending ops that never took effect', () => {
    const p = pendingWrite(9, 0);
    const v = checkKey(register, 'k', [p, r(0, 1, 2)]);
    expect(v.status).toBe('ok');
    if (v.status === 'ok') expect(v.linearization).not.toContain(p);
  });

  it('refuses a malformed history', () => {
    expect(() => checkHistory(register, [w(1, 5, 4)])).toThrow(/call 5, return 4/);
    expect(() => checkHistory(register, [w(1, Number.NaN, 4)])).toThrow(/invalid operation/);
  });
});

// ---- the brute-force twin ------------------------------------------------------

/** Every order of every admissible subset, stepped through every branch. */
function naive(ops: readonly Op[]): boolean {
  const done = ops.filter((o) => o.return !== Infinity);
  const pending = ops.filter((o) => o.return === Infinity);
  for (let mask = 0; mask < 1 << pending.length; mask++) {
    const chosen = [...done, ...pending.filter((_, i) => mask & (1 << i))];
    if (someOrder(chosen, [], new Set([0]))) return true;
  }
  return false;
}

function someOrder(left: readonly Op[], placed: readonly Op[], states: ReadonlySet<number>): boolean {
  if (left.length === 0) return states.size > 0;
  return left.some((o, i) => {
    // `o` may go next only if nothing left had returned before it was called.
    if (left.some((x) => x !== o && x.return < o.call)) return false;
    const next = new Set([...states].flatMap((s) => register.step(s, o.input, o.output)));
    return next.size > 0 && someOrder(left.filter((_, j) => j !== i), [...placed, o], next);
  });
}

function replayable(order: readonly Op[], all: readonly Op[]): boolean {
  let states = new Set([0]);
  for (const o of order) states = new Set([...states].flatMap((s) => register.step(s, o.input, o.output)));
  const pos = new Map(order.map((o, i) => [o, i]));
  const respectsTime = order.every((a) => order.every((b) => !(a.return < b.call) || pos.get(a)! < pos.get(b)!));
  return states.size > 0 && respectsTime && all.filter((o) => o.return !== Infinity).every((o) => pos.has(o));
}

describe('checkHistory against the brute-force twin', () => {
  const input: fc.Arbitrary<In> = fc.oneof(
    fc.record({ kind: fc.constant('write' as const), v: fc.integer({ min: 0, max: 2 }) }),
    fc.constant({ kind: 'read' as const }),
    fc.record({ kind: fc.constant('cas' as const), from: fc.integer({ min: 0, max: 2 }), to: fc.integer({ min: 0, max: 2 }) }),
    fc.constant({ kind: 'scramble' as const }),
  );
  const output: fc.Arbitrary<Out> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('ok' as const), v: fc.integer({ min: 0, max: 2 }) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'failed' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'unknown' as const }) },
  );
  // Small integer times so that ties, nesting and gaps all occur.
  const opArb = fc.record({ input, output, call: fc.integer({ min: 0, max: 8 }), len: fc.integer({ min: 0, max: 4 }) }).map(({ input: i, output: o, call, len }): Op => {
    const out: Out = i.kind === 'read' || o.kind !== 'ok' ? o : { kind: 'ok' };
    return { key: 'k', input: i, output: out, call, return: out.kind === 'unknown' ? Infinity : call + len };
  });

  it('agrees on every small history, and every witness replays in real-time order', () => {
    let violations = 0;
    fc.assert(fc.property(fc.array(opArb, { maxLength: 6 }), (ops) => {
      const v = checkKey(register, 'k', ops);
      expect(v.status === 'ok', v.report).toBe(naive(ops));
      if (v.status === 'ok') expect(replayable(v.linearization, ops)).toBe(true);
      else violations++;
    }), { numRuns: 2000 });
    // Both verdicts must be common, or the agreement proves little.
    expect(violations).toBeGreaterThan(200);
    expect(violations).toBeLessThan(1800);
  });
});
