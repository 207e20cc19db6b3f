import { describe, expect, it } from 'vitest';
import { checkDocHistory, type DocOperation } from '../../../src/check/index.ts';
import { A, B, C, conflict, create, del, notFound, ok, op, r1A, r2B, r2C, read, rev, tomb2, unknown, update } from './fixtures.ts';

// Anomalies a broken store could show a client, planted by hand: the checker
// must flag each one. The controls next to them are the same shapes made
// legal, mostly by an indeterminate write: they must pass, or the checker
// would cry wolf on every failover.

const created = op(create(A), ok(r1A, 201), 0, 10, 'doc-1', 'c1');

function expectViolation(history: DocOperation[], culprit?: DocOperation): string {
  const result = checkDocHistory(history);
  expect(result.status, result.report).toBe('violation');
  const [verdict] = result.keys;
  if (verdict?.status !== 'violation') throw new Error(result.report);
  if (culprit) expect(verdict.violation.unplaceable.map((u) => u.op)).toContain(culprit);
  return result.report;
}

function expectOk(history: DocOperation[]): void {
  const result = checkDocHistory(history);
  expect(result.status, result.report).toBe('ok');
}

describe('planted anomalies are flagged', () => {
  it('a dirty read: a read shows a write that answered indeterminate, later reads and a delete do not', () => {
    const dirty = op(read, ok(r2B), 30, 40, 'doc-1', 'c3');
    const report = expectViolation([
      created,
      op(update(r1A, B), unknown, 20, Infinity, 'doc-1', 'c2'),
      dirty,
      op(read, ok(r1A), 50, 60, 'doc-1', 'c3'),
      op(del(r1A), ok(tomb2, 200), 70, 80, 'doc-1', 'c1'),
    ]);
    // Either the dirty read or what came after it cannot be placed; the report shows which and why.
    expect(report).toMatch(/read → ok (1|2)-[0-9a-f]{8}: the document is at/);
    expect(report).toContain('[20.0, ∞) c2 put {"data":{"v":"b"}} rev=');
  });

  it('a stale read: a read that starts after an acknowledged update returns the older rev', () => {
    const stale = op(read, ok(r1A), 40, 50);
    const report = expectViolation([created, op(update(r1A, B), ok(r2B, 200), 20, 30), stale], stale);
    expect(report).toMatch(/\[40\.0, 50\.0\] read → ok 1-[0-9a-f]{8}: the document is at 2-[0-9a-f]{8}, so it would answer ok 2-/);
  });

  it('a lost CAS: two updates from the same rev both succeed', () => {
    expectViolation([created, op(update(r1A, B), ok(r2B, 200), 20, 30), op(update(r1A, C), ok(r2C, 200), 21, 31)]);
  });

  it('an acknowledged create lost: a later read finds nothing, with no write in between', () => {
    const lost = op(read, notFound, 20, 30);
    expectViolation([created, lost], lost);
  });

  it('an acknowledged update lost: the doc is read at the new rev, then at the old one', () => {
    const rolledBack = op(read, ok(r1A), 60, 70);
    expectViolation([created, op(update(r1A, B), ok(r2B, 200), 20, 30), op(read, ok(r2B), 40, 50), rolledBack], rolledBack);
  });

  it('a spurious conflict: a 409 for an update from the current rev, with nothing concurrent', () => {
    const liar = op(update(r1A, B), conflict, 20, 30);
    expectViolation([created, op(read, ok(r1A), 15, 18), liar], liar);
  });

  it('a re-create after delete that restarts n at 1', () => {
    const restarted = op(create(A), ok(r1A, 201), 40, 50);
    expectViolation([created, op(del(r1A), ok(tomb2, 200), 20, 30), restarted], restarted);
  });

  it('a re-sent create answered 200 instead of the 201 it got the first time', () => {
    const resent = op(create(A), ok(r1A, 200), 20, 30);
    expectViolation([created, resent], resent);
  });

  it('an indeterminate write that takes effect twice', () => {
    // Once applied, a re-sent copy is answered as a retry: it cannot move the doc again.
    expectViolation([
      created,
      op(update(r1A, B), unknown, 20, Infinity),
      op(read, ok(r2B), 30, 40),
      op(update(r2B, C), ok(rev(3, C), 200), 50, 60),
      op(read, ok(r2B), 70, 80),
    ]);
  });
});

describe('controls: the same shapes, legal, pass', () => {
  it('an indeterminate update that takes effect late, after reads that did not see it', () => {
    expectOk([
      created,
      op(update(r1A, B), unknown, 20, Infinity),
      op(read, ok(r1A), 30, 40),
      op(read, ok(r1A), 50, 60),
      op(read, ok(r2B), 100, 110),
    ]);
  });

  it('an indeterminate update that never takes effect: reads and a delete see the old rev', () => {
    expectOk([
      created,
      op(update(r1A, B), unknown, 20, Infinity),
      op(read, ok(r1A), 30, 40),
      op(read, ok(r1A), 50, 60),
      op(del(r1A), ok(tomb2, 200), 70, 80),
      op(read, notFound, 90, 100),
    ]);
  });

  it('an indeterminate create whose re-sent copy is answered as a retry', () => {
    expectOk([op(create(A), unknown, 0, Infinity), op(create(A), ok(r1A, 201), 20, 30), op(read, ok(r1A), 40, 50)]);
  });

  it('an indeterminate update whose retry conflicts because another write superseded it', () => {
    expectOk([
      created,
      op(update(r1A, B), unknown, 20, Infinity),
      op(update(r2B, C), ok(rev(3, C), 200), 30, 40),
      op(update(r1A, B), conflict, 50, 60),
    ]);
  });

  it('two concurrent CAS from the same rev: one wins, the other conflicts', () => {
    expectOk([created, op(update(r1A, B), conflict, 20, 30), op(update(r1A, C), ok(r2C, 200), 21, 31), op(read, ok(r2C), 40, 50)]);
  });

  it('a read concurrent with an update may see either rev', () => {
    expectOk([created, op(update(r1A, B), ok(r2B, 200), 20, 50), op(read, ok(r2B), 25, 30), op(read, ok(r2B), 55, 60)]);
    expectOk([created, op(update(r1A, B), ok(r2B, 200), 20, 50), op(read, ok(r1A), 25, 30), op(read, ok(r2B), 55, 60)]);
  });

  it('delete, re-create continuing n, and a retried delete', () => {
    expectOk([
      created,
      op(del(r1A), ok(tomb2, 200), 20, 30),
      op(del(r1A), ok(tomb2, 200), 35, 38),
      op(read, notFound, 40, 50),
      op(create(B), ok(rev(3, B), 201), 60, 70),
      op(read, ok(rev(3, B)), 80, 90),
    ]);
  });

  it('documents do not constrain each other', () => {
    expectOk([created, op(read, notFound, 20, 30, 'doc-2'), op(create(B), ok(rev(1, B), 201), 40, 50, 'doc-2'), op(read, ok(r1A), 60, 70)]);
  });
});
