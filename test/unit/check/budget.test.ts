import { describe, expect, it } from 'vitest';
import { checkDocHistory, checkKey, docModel, type DocOperation } from '../../../src/check/index.ts';
import { A, B, conflict, create, NEVER, notFound, ok, op, r1A, read, rev, unknown, update } from './fixtures.ts';

// A history built to explode the search: 20 indeterminate updates racing
// from the same rev (each could be the one that applied), 20 overlapping
// 409s that fit any state in any order, and one read nobody can explain.
// Proving it wrong means trying every subset of the 409s in every state:
// the checker must give up with `unknown`, promptly, and never say ok.
function explosive(key = 'doc-1'): DocOperation[] {
  const h = [op(create(A), ok(r1A, 201), 0, 10, key)];
  for (let i = 0; i < 20; i++) h.push(op(update(r1A, { data: { racer: i } }), unknown, 20 + i, Infinity, key));
  for (let i = 0; i < 20; i++) h.push(op(update(NEVER, { data: { late: i } }), conflict, 20 + i, 1000, key));
  h.push(op(read, ok(NEVER), 20, 1000, key));
  return h;
}

describe('the search budget', () => {
  it('ends an explosive history with unknown once the step budget is spent', () => {
    const started = performance.now();
    const v = checkKey(docModel, 'doc-1', explosive(), { maxSteps: 50_000 });
    expect(v.status).toBe('unknown');
    expect(v.steps).toBeLessThanOrEqual(50_001);
    if (v.status === 'unknown') expect(v.reason).toMatch(/^step budget exceeded \(50000 steps\); the longest linearizable prefix found so far has \d+ of 42 ops$/);
    expect(v.report).toContain('may or may not be linearizable');
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('ends it with unknown once the time budget is spent, on the injected clock', () => {
    let t = 0;
    const v = checkKey(docModel, 'doc-1', explosive(), { maxMs: 100, now: () => t++ });
    expect(v.status).toBe('unknown');
    if (v.status === 'unknown') expect(v.reason).toMatch(/^time budget exceeded/);
  });

  it('ends it within a bounded wall time with the default step budget', () => {
    const started = performance.now();
    const v = checkKey(docModel, 'doc-1', explosive(), { maxMs: 300 });
    const elapsed = performance.now() - started;
    expect(v.status).toBe('unknown');
    // The clock is read every 1024 steps, so the overrun is a few ms, not seconds.
    expect(elapsed).toBeLessThan(3_000);
  });

  it('an exhausted key makes the whole result unknown, but never hides a violation elsewhere', () => {
    const opts = { maxSteps: 20_000 };
    const fine = [op(read, notFound, 0, 10, 'doc-2'), op(create(B), ok(rev(1, B), 201), 20, 30, 'doc-2')];
    expect(checkDocHistory([...explosive(), ...fine], opts).status).toBe('unknown');
    const broken = [op(create(A), ok(r1A, 201), 0, 10, 'doc-3'), op(read, notFound, 20, 30, 'doc-3')];
    const result = checkDocHistory([...explosive(), ...broken], opts);
    expect(result.status).toBe('violation');
    expect(result.keys.map((k) => k.status)).toEqual(['unknown', 'violation']);
  });

  it('the same shape without the impossible read is linearizable at once', () => {
    const v = checkKey(docModel, 'doc-1', explosive().slice(0, -1), { maxSteps: 50_000 });
    expect(v.status, v.report).toBe('ok');
    expect(v.steps).toBeLessThan(1_000);
  });
});
