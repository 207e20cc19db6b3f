import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TesseraError } from '../../src/core/errors.ts';
import { IDEMPOTENCY_RETENTION_MS, type Doc, type LogEntry, type ReplicateRequest, type Role, type SnapshotLine } from '../../src/core/protocol.ts';
import { GroupCommit, Store } from '../../shard/store/index.ts';

const root = mkdtempSync(join(tmpdir(), 'tessera-shard-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const open: Store[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

let n = 0;
function store(nodeId = 'n1', role: Role = nodeId === 'n1' ? 'primary' : 'replica', path?: string, walRetention = 100): Store {
  const s = new Store({ path: path ?? join(root, `${nodeId}-${n++}.db`), nodeId, shardId: 0, initial: { role, primaryId: 'n1', joined: true }, walRetention });
  open.push(s);
  return s;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TesseraError) return err.code;
    throw err;
  }
  return 'ok';
}

function errorOf(fn: () => unknown): TesseraError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TesseraError) return err;
    throw err;
  }
  throw new Error('expected a TesseraError');
}

/** Reads as of the end of the store's log (these tests drive one store alone; no router tells it a commit point). */
const end = (s: Store): number => s.last().seq;
function getDoc(s: Store, db: string, id: string, rev?: string): string {
  const r = s.getDoc(db, id, rev, end(s));
  if (r.body === null) throw new TesseraError('not_found', `document ${id} not found`);
  return r.body;
}
const doc = (s: Store, db: string, id: string): Doc => JSON.parse(getDoc(s, db, id)) as Doc;

/** Sends `from`'s entries after `prevSeq` to `to` the way the router would. */
function ship(from: Store, to: Store, prevSeq: number, opts: Partial<ReplicateRequest> = {}) {
  const all = from.entries(0);
  const entries = all.filter((e) => e.seq > prevSeq);
  const prevTerm = prevSeq === 0 ? 0 : all.find((e) => e.seq === prevSeq)!.term;
  const st = from.state();
  return to.replicate({ term: st.term, primaryId: from.nodeId, commitSeq: st.commitSeq, prevSeq, prevTerm, entries, truncate: true, ...opts });
}

describe('Store: log', () => {
  it('appends contiguous entries stamped with the current term, and returns them with each write', () => {
    const s = store();
    const returned: LogEntry[] = [];
    returned.push(...s.createDb('a').entries);
    const put = s.putDoc('a', 'x', undefined, { data: { v: 1 } });
    returned.push(...put.entries);
    returned.push(...s.putDoc('a', 'x', put.body.rev, { data: { v: 2 } }).entries);
    returned.push(...s.bulk('a', [{ id: 'y', data: {} }, { id: 'z', data: {} }], () => 'gen').entries);
    returned.push(...s.deleteDoc('a', 'y', doc(s, 'a', 'y').rev).entries);
    const log = s.entries(0);
    expect(log.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(log.every((e) => e.term === 1)).toBe(true);
    expect(returned).toEqual(log);
    expect(s.state()).toMatchObject({ lastSeq: 6, lastTerm: 1, oldestSeq: 1, role: 'primary', term: 1 });
  });

  it('no-ops append nothing and report the seq that made the current state', () => {
    const s = store();
    s.createDb('a');
    const again = s.createDb('a');
    expect(again).toMatchObject({ status: 200, entries: [] });
    const first = s.putDoc('a', 'x', undefined, { data: { v: 1 } });
    s.createDb('b');
    const retry = s.putDoc('a', 'x', undefined, { data: { v: 1 } });
    expect(retry).toEqual({ status: 201, body: first.body, entries: [] });
    expect(s.state().lastSeq).toBe(3);
  });

  it('keeps old revisions for ?rev= and restores nothing it should not', () => {
    const s = store();
    s.createDb('a');
    const v1 = s.putDoc('a', 'x', undefined, { data: { v: 1 } }).body;
    s.putDoc('a', 'x', v1.rev, { data: { v: 2 } });
    expect(JSON.parse(getDoc(s, 'a', 'x', v1.rev))).toMatchObject({ rev: v1.rev, data: { v: 1 } });
    expect(code(() => getDoc(s, 'a', 'x', '9-abc'))).toBe('not_found');
  });

  it('refuses writes on a replica (not_primary) and stamped writes of another term (stale_term)', () => {
    const r = store('n2');
    expect(errorOf(() => r.createDb('a'))).toMatchObject({ code: 'not_primary', details: { primaryId: 'n1', term: 1 } });
    const p = store();
    expect(errorOf(() => p.createDb('a', { term: 2 }))).toMatchObject({ code: 'stale_term', details: { term: 1 } });
    expect(p.createDb('a', { term: 1 }).status).toBe(201);
    expect(p.createDb('b').status).toBe(201);
  });

  it('keeps role, term and log across a reopen', () => {
    const path = join(root, `reopen-${n++}.db`);
    const s = new Store({ path, nodeId: 'n2', shardId: 0, initial: { role: 'replica', primaryId: 'n1', joined: true }, walRetention: 100 });
    s.vote({ term: 5, candidateId: 'n2', lastTerm: 0, lastSeq: 0 });
    s.promote({ term: 5 });
    s.close();
    const again = store('n2', 'replica', path);
    expect(again.state()).toMatchObject({ role: 'primary', term: 5, votedFor: 'n2', lastSeq: 1, lastTerm: 5 });
    expect(() => store('other', 'replica', path)).toThrow(/belongs to node n2/);
  });
});

describe('Store: votes and promotion', () => {
  it('grants one candidate per term, refuses stale logs, and the vote survives a restart', () => {
    const path = join(root, `vote-${n++}.db`);
    const s = new Store({ path, nodeId: 'n2', shardId: 0, initial: { role: 'replica', primaryId: 'n1', joined: true }, walRetention: 100 });
    const p = store();
    p.createDb('a');
    ship(p, s, 0);
    expect(s.vote({ term: 2, candidateId: 'n3', lastTerm: 1, lastSeq: 0 })).toMatchObject({ granted: false, term: 2 });
    expect(s.vote({ term: 2, candidateId: 'n3', lastTerm: 1, lastSeq: 1 })).toMatchObject({ granted: true, term: 2 });
    expect(s.vote({ term: 2, candidateId: 'n1', lastTerm: 1, lastSeq: 1 })).toMatchObject({ granted: false });
    s.close();
    const again = store('n2', 'replica', path);
    expect(again.vote({ term: 2, candidateId: 'n1', lastTerm: 1, lastSeq: 9 })).toMatchObject({ granted: false, term: 2 });
    expect(again.vote({ term: 2, candidateId: 'n3', lastTerm: 1, lastSeq: 1 })).toMatchObject({ granted: true });
    expect(again.vote({ term: 1, candidateId: 'n3', lastTerm: 1, lastSeq: 1 })).toMatchObject({ granted: false, term: 2 });
  });

  it('a primary restarted at an old term is deposed by a higher-term vote (nobody is sticky for it)', () => {
    const p = store();
    expect(p.vote({ term: 2, candidateId: 'n2', lastTerm: 0, lastSeq: 0 })).toMatchObject({ granted: true, term: 2 });
    expect(p.state()).toMatchObject({ role: 'replica', term: 2, votedFor: 'n2' });
    expect(code(() => p.createDb('a'))).toBe('not_primary');
  });

  it('promotes only with its own vote for that term, then writes a noop of the new term', () => {
    const s = store('n2');
    expect(code(() => s.promote({ term: 2 }))).toBe('stale_term');
    s.vote({ term: 2, candidateId: 'n3', lastTerm: 0, lastSeq: 0 });
    expect(code(() => s.promote({ term: 2 }))).toBe('stale_term');
    s.vote({ term: 3, candidateId: 'n2', lastTerm: 0, lastSeq: 0 });
    expect(s.promote({ term: 3 })).toEqual({ ok: true, role: 'primary', term: 3, lastSeq: 1 });
    expect(s.promote({ term: 3 })).toEqual({ ok: true, role: 'primary', term: 3, lastSeq: 1 });
    expect(s.entries(0)).toMatchObject([{ seq: 1, term: 3, op: 'noop' }]);
    expect(s.createDb('a').body.seq).toBe(2);
  });
});

describe('Store: incarnations (a fresh data dir joins before it votes or writes)', () => {
  it('unjoined: refuses votes and writes and reports it; joined at term T it votes for nobody in T, normally above', () => {
    const path = join(root, `fresh-${n++}.db`);
    const s = new Store({ path, nodeId: 'n1', shardId: 0, initial: { role: 'primary', primaryId: 'n1' }, walRetention: 100 });
    open.push(s);
    const fresh = s.state();
    expect(fresh).toMatchObject({ joined: false, term: 1 });
    expect(fresh.incarnation).toMatch(/^[0-9a-f]{16}$/);
    expect(s.vote({ term: 5, candidateId: 'n2', lastTerm: 0, lastSeq: 0 })).toMatchObject({ granted: false, term: 1 });
    expect(code(() => s.createDb('a'))).toBe('not_primary');
    // A replicate is accepted (the router catches it up meanwhile), but says it is not joined.
    expect(s.replicate({ term: 4, primaryId: 'n2', commitSeq: 0, prevSeq: 0, prevTerm: 0, entries: [] })).toMatchObject({ ok: true, joined: false });
    expect(s.join({ term: 4, role: 'replica', primaryId: 'n2' })).toMatchObject({ joined: true, term: 4, role: 'replica', votedFor: '(joined)' });
    expect(s.vote({ term: 4, candidateId: 'n3', lastTerm: 0, lastSeq: 0 })).toMatchObject({ granted: false });
    expect(s.vote({ term: 5, candidateId: 'n3', lastTerm: 0, lastSeq: 0 })).toMatchObject({ granted: true, term: 5 });
    // A second join changes nothing; the incarnation survives a restart.
    expect(s.join({ term: 9, role: 'replica', primaryId: 'n2' })).toMatchObject({ term: 5, votedFor: 'n3' });
    s.close();
    open.splice(open.indexOf(s), 1);
    const again = store('n1', 'primary', path);
    expect(again.state()).toMatchObject({ joined: true, term: 5, incarnation: fresh.incarnation });
  });
});

describe('Store: leader stickiness', () => {
  it('a replica that heard of a live primary within stickyMs refuses a vote without taking its term; the latest sign of life counts; forced votes pass', () => {
    let now = 10_000;
    const path = join(root, `sticky-${n++}.db`);
    const s = new Store({ path, nodeId: 'n2', shardId: 0, initial: { role: 'replica', primaryId: 'n1', joined: true }, walRetention: 100, stickyMs: 600, now: () => now });
    open.push(s);
    const beat = (heardMsAgo: number) => s.replicate({ term: 1, primaryId: 'n1', commitSeq: 0, prevSeq: 0, prevTerm: 0, entries: [], primaryHeardMsAgo: heardMsAgo });
    beat(50); // one router heard the primary 50 ms ago
    beat(2000); // another, cut off from it, last heard it long ago: the older report does not win
    now += 400;
    expect(s.vote({ term: 2, candidateId: 'n3', lastTerm: 0, lastSeq: 0 })).toMatchObject({ granted: false, term: 1 });
    expect(s.state()).toMatchObject({ term: 1, primaryId: 'n1', votedFor: null });
    expect(s.vote({ term: 2, candidateId: 'n3', lastTerm: 0, lastSeq: 0, force: true })).toMatchObject({ granted: true, term: 2 });
    // A new term forgets the old primary's sign of life: nothing is known of term 2's primary.
    expect(s.vote({ term: 3, candidateId: 'n1', lastTerm: 0, lastSeq: 0 })).toMatchObject({ granted: true, term: 3 });
    // The window runs from the last sign of life.
    s.replicate({ term: 3, primaryId: 'n1', commitSeq: 0, prevSeq: 0, prevTerm: 0, entries: [], primaryHeardMsAgo: 0 });
    now += 599;
    expect(s.vote({ term: 4, candidateId: 'n3', lastTerm: 0, lastSeq: 0 })).toMatchObject({ granted: false, term: 3 });
    now += 2;
    expect(s.vote({ term: 4, candidateId: 'n3', lastTerm: 0, lastSeq: 0 })).toMatchObject({ granted: true, term: 4 });
  });
});

describe('Store: replicate', () => {
  it('applies a batch, refuses a stale term, answers gap with lastSeq, ignores a duplicate batch', () => {
    const p = store();
    const r = store('n2');
    p.createDb('a');
    p.putDoc('a', 'x', undefined, { data: { v: 1 } });
    expect(ship(p, r, 0)).toMatchObject({ ok: true, term: 1, lastSeq: 2, rolledBack: 0 });
    expect(doc(r, 'a', 'x')).toEqual(doc(p, 'a', 'x'));
    expect(ship(p, r, 0)).toMatchObject({ ok: true, lastSeq: 2, rolledBack: 0 });
    expect(r.entries(0)).toEqual(p.entries(0));

    expect(errorOf(() => ship(p, r, 0, { term: 0 }))).toMatchObject({ code: 'stale_term', details: { term: 1 } });
    p.putDoc('a', 'y', undefined, { data: {} });
    p.putDoc('a', 'z', undefined, { data: {} });
    const gap = errorOf(() => ship(p, r, 3));
    expect(gap).toMatchObject({ code: 'gap', details: { lastSeq: 2, lastTerm: 1, mismatch: false } });
    expect(ship(p, r, 2)).toMatchObject({ lastSeq: 4 });
  });

  it('a replica that hears the primary position becomes ready', () => {
    const p = store();
    const r = store('n2');
    expect(r.state().ready).toBe(false);
    p.createDb('a');
    ship(p, r, 0, { truncate: false });
    expect(r.state().ready).toBe(false);
    ship(p, r, 1, { truncate: false, primaryLastSeq: 1 });
    expect(r.state().ready).toBe(true);
    // A vote for a new term: the new primary's position is not known yet.
    r.vote({ term: 2, candidateId: 'n3', lastTerm: 1, lastSeq: 1 });
    expect(r.state().ready).toBe(false);
    expect(r.notReadyReason()).toMatch(/not heard/);
  });

  /** Old primary n1 writes 2 entries no replica got; n2 is elected and writes. */
  function diverged() {
    const old = store('n1');
    const next = store('n2');
    old.createDb('a');
    const v1 = old.putDoc('a', 'x', undefined, { data: { v: 1 } }).body;
    ship(old, next, 0);
    old.putDoc('a', 'x', v1.rev, { data: { v: 'lost' } });
    old.putDoc('a', 'y', undefined, { data: { v: 'lost' } });
    next.vote({ term: 2, candidateId: 'n2', lastTerm: 1, lastSeq: 2 });
    next.promote({ term: 2 });
    return { old, next, v1 };
  }

  it('a conflicting entry rolls back: previous revisions restored, rollback table filled', () => {
    const { old, next, v1 } = diverged();
    // Only the noop: the conflict at seq 3 rolls back 3..4 before it is appended.
    const res = old.replicate({ term: 2, primaryId: 'n2', commitSeq: 0, prevSeq: 2, prevTerm: 1, entries: next.entries(2) });
    expect(res).toMatchObject({ ok: true, term: 2, lastSeq: 3, lastTerm: 2, rolledBack: 2 });
    expect(doc(old, 'a', 'x')).toEqual({ id: 'x', rev: v1.rev, data: { v: 1 } });
    expect(code(() => getDoc(old, 'a', 'y'))).toBe('not_found');
    expect(old.rollbackEntries().map((e) => [e.seq, e.term, e.id, e.byTerm])).toEqual([[3, 1, 'x', 2], [4, 1, 'y', 2]]);
    expect(old.state()).toMatchObject({ role: 'replica', term: 2, primaryId: 'n2', rollbackCount: 2 });
    // The old primary's write rules still hold on the restored head.
    next.putDoc('a', 'x', v1.rev, { data: { v: 3 } });
    ship(next, old, 3);
    expect(doc(old, 'a', 'x')).toEqual(doc(next, 'a', 'x'));
    expect(old.entries(0)).toEqual(next.entries(0));
  });

  it('reports lifecycle events: promotion, stepping down, rollback, snapshot installs', () => {
    const events: string[] = [];
    const onEvent = (e: string) => events.push(e);
    const old = new Store({ path: join(root, `ev-${n++}.db`), nodeId: 'n1', shardId: 0, initial: { role: 'primary', primaryId: 'n1', joined: true }, walRetention: 100, onEvent });
    const next = new Store({ path: join(root, `ev-${n++}.db`), nodeId: 'n2', shardId: 0, initial: { role: 'replica', primaryId: 'n1', joined: true }, walRetention: 100, onEvent });
    open.push(old, next);
    old.createDb('a');
    ship(old, next, 0);
    old.createDb('b');
    next.vote({ term: 2, candidateId: 'n2', lastTerm: 1, lastSeq: 1 });
    next.promote({ term: 2 });
    expect(events).toEqual(['new term', 'promoted']);
    ship(next, old, 1);
    expect(events).toEqual(['new term', 'promoted', 'stepped down', 'rolled back']);
    // A snapshot the old node does not hold yet (one entry past what it was shipped) is installed...
    next.createDb('c');
    old.installSnapshot(parseLines([...next.snapshotLines()]), 2, 'n2');
    expect(events.at(-1)).toBe('snapshot installed');
    // ...and the same one again is a no-op.
    old.installSnapshot(parseLines([...next.snapshotLines()]), 2, 'n2');
    expect(events.at(-1)).toBe('snapshot already held');
  });

  it('a snapshot carries Idempotency-Key records: a copy rebuilt from it, once primary, answers a retry like the first time', () => {
    const p = store('n1');
    p.createDb('a');
    const idem = { key: 'k-1', fingerprint: 'f-1' };
    const first = p.putDoc('a', 'x', undefined, { data: { v: 1 } }, { idempotency: idem });
    p.putDoc('a', 'x', first.body.rev as string, { data: { v: 2 } });
    const lines = parseLines([...p.snapshotLines()]);
    expect(lines.filter((l) => l.type === 'idem')).toMatchObject([{ type: 'idem', key: 'k-1', fingerprint: 'f-1', status: 201 }]);
    const r = store('n2');
    r.installSnapshot(lines, 1, 'n1');
    r.vote({ term: 2, candidateId: 'n2', lastTerm: 1, lastSeq: r.last().seq, force: true });
    r.promote({ term: 2 });
    // The doc moved on since (v: 2), yet the retry is answered as the first attempt was, and writes nothing.
    const before = r.last().seq;
    const again = r.putDoc('a', 'x', undefined, { data: { v: 1 } }, { idempotency: idem });
    expect({ status: again.status, rev: again.body.rev }).toEqual({ status: first.status, rev: first.body.rev });
    expect(r.last().seq).toBe(before);
    expect(code(() => r.putDoc('a', 'x', undefined, { data: { v: 9 } }, { idempotency: { key: 'k-1', fingerprint: 'other' } }))).toBe('idempotency_key_reused');
  });

  it('Idempotency-Key records expire after IDEMPOTENCY_RETENTION_MS (swept within a minute): a later repeat is a new request', () => {
    let now = 1_000_000;
    const p = new Store({ path: join(root, `idem-${n++}.db`), nodeId: 'n1', shardId: 0, initial: { role: 'primary', primaryId: 'n1', joined: true }, walRetention: 100, now: () => now });
    open.push(p);
    p.createDb('a');
    const idem = { key: 'k-2', fingerprint: 'f-2' };
    const first = p.putDoc('a', 'y', undefined, { data: { v: 1 } }, { idempotency: idem });
    p.deleteDoc('a', 'y', first.body.rev as string);
    now += IDEMPOTENCY_RETENTION_MS - 1;
    p.trim();
    expect(p.putDoc('a', 'y', undefined, { data: { v: 1 } }, { idempotency: idem }).body.rev).toBe(first.body.rev);
    now += 60_001; // the sweep runs at most once a minute
    p.trim();
    // Expired: the same request now re-creates the deleted document (a new generation).
    const later = p.putDoc('a', 'y', undefined, { data: { v: 1 } }, { idempotency: idem });
    expect(later.status).toBe(201);
    expect(later.body.rev).not.toBe(first.body.rev);
  });

  it('a snapshot install is conditional on where the copy was probed, and a no-op when the copy already holds it', () => {
    const p = store('n1');
    const r = store('n2');
    p.createDb('a');
    for (let i = 0; i < 3; i++) p.putDoc('a', `d${i}`, undefined, { data: { i } });
    const early = parseLines([...p.snapshotLines()]);
    const probed = { lastSeq: r.last().seq, lastTerm: r.last().term };
    for (let i = 3; i < 6; i++) p.putDoc('a', `d${i}`, undefined, { data: { i } });
    const late = parseLines([...p.snapshotLines()]);
    // Router A installs the newer snapshot first...
    r.beginSnapshot(1, probed);
    r.stageSnapshot(late);
    expect(r.commitSnapshot(1, 'n1', probed)).toMatchObject({ lastSeq: 7, oldestSeq: 8 });
    // ...router B, which probed the copy before that, must not roll it back to the older one.
    expect(errorOf(() => r.beginSnapshot(1, probed))).toMatchObject({ code: 'conflict', details: { lastSeq: 7, lastTerm: 1 } });
    r.beginSnapshot(1);
    r.stageSnapshot(early);
    expect(errorOf(() => r.commitSnapshot(1, 'n1', probed))).toMatchObject({ code: 'conflict' });
    expect(JSON.parse(r.allDocsJson('a', { skip: 0, limit: 100, includeDeleted: false }, end(r))).total).toBe(6);
    // The same snapshot again (the copy already holds its end entry): nothing changes.
    const now = { lastSeq: 7, lastTerm: 1 };
    r.installSnapshot(late, 1, 'n1');
    expect(r.state()).toMatchObject({ lastSeq: 7, oldestSeq: 8 });
    r.beginSnapshot(1, now);
    r.stageSnapshot(late);
    expect(r.commitSnapshot(1, 'n1', now)).toMatchObject({ lastSeq: 7, oldestSeq: 8 });
  });

  it('truncate rolls back a lower-term tail the sender does not have', () => {
    const { old } = diverged();
    const res = old.replicate({ term: 2, primaryId: 'n2', commitSeq: 0, prevSeq: 2, prevTerm: 1, entries: [], truncate: true });
    expect(res).toMatchObject({ lastSeq: 2, rolledBack: 2 });
    expect(old.entries(0).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('a rolled-back db_delete cannot be undone locally: needsSnapshot until one is installed', () => {
    const old = store('n1');
    const next = store('n2');
    old.createDb('a');
    ship(old, next, 0);
    old.deleteDb('a');
    next.vote({ term: 2, candidateId: 'n2', lastTerm: 1, lastSeq: 1 });
    next.promote({ term: 2 });
    const err = errorOf(() => ship(next, old, 1));
    expect(err).toMatchObject({ code: 'gap', details: { needsSnapshot: true, mismatch: true } });
    expect(old.state()).toMatchObject({ ready: false, term: 2 });
    expect(errorOf(() => ship(next, old, 1))).toMatchObject({ code: 'gap', details: { needsSnapshot: true } });
    old.installSnapshot(parseLines([...next.snapshotLines()]), 2, 'n2');
    expect(old.state()).toMatchObject({ ready: true, lastSeq: 2, oldestSeq: 3 });
    expect(old.listDbs(end(old))).toEqual(['a']);
  });
});

function parseLines(lines: string[]): SnapshotLine[] {
  return lines.join('').trim().split('\n').map((l) => JSON.parse(l) as SnapshotLine);
}

describe('Store: WAL and snapshots', () => {
  it('pages the WAL and answers gone once trimmed past the reader', () => {
    const p = store('n1', 'primary', undefined, 100);
    p.createDb('a');
    for (let i = 0; i < 299; i++) p.putDoc('a', `d${i}`, undefined, { data: { i } });
    const page = JSON.parse(p.walJson(10, 50, false)) as { entries: LogEntry[]; lastSeq: number; oldestSeq: number };
    expect(page.entries.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 11 + i));
    expect(page.entries[0]!.doc).toMatchObject({ id: 'd9' });
    expect(JSON.parse(p.walJson(10, 2, true)).entries[0].doc).toBeNull();
    expect(p.trim(1)).toBe(0); // nothing is committed yet: nothing may go
    p.noteCommitSeq(250);
    p.noteKeep(120);
    expect(p.trim(1)).toBe(120);
    expect(p.state()).toMatchObject({ oldestSeq: 121, lastSeq: 300 });
    expect(errorOf(() => p.walJson(100, 10, false))).toMatchObject({ code: 'gone', status: 410 });
    expect(JSON.parse(p.walJson(120, 1, false)).entries[0].seq).toBe(121);
    p.noteKeep(300);
    expect(p.trim(1)).toBe(80); // keeps walRetention (100) newest entries
    expect(JSON.parse(p.walJson(300, 10, false))).toEqual({ entries: [], lastSeq: 300, oldestSeq: 201, term: 1, role: 'primary' });
  });

  it('a replica trims its WAL like a primary: walRetention newest entries, never past the commit point', () => {
    const p = store('n1', 'primary', undefined, 100);
    const r = store('n2', 'replica', undefined, 100);
    p.createDb('a');
    for (let i = 0; i < 399; i++) p.putDoc('a', `d${i}`, undefined, { data: { i } });
    ship(p, r, 0, { commitSeq: 0 });
    expect(r.state()).toMatchObject({ oldestSeq: 1, lastSeq: 400 }); // nothing committed: nothing may go
    ship(p, r, 400, { commitSeq: 350, entries: [] });
    expect(r.state()).toMatchObject({ oldestSeq: 301, lastSeq: 400 });
    expect(doc(r, 'a', 'd0').data).toEqual({ i: 0 }); // documents stay; only the log is trimmed
  });

  it('a snapshot installed into an empty node gives an identical document set, and replication continues', () => {
    const p = store();
    p.createDb('a');
    p.createDb('b');
    for (let i = 0; i < 20; i++) p.putDoc(i % 2 ? 'a' : 'b', `d${i}`, undefined, { data: { i }, tags: ['t'], content: `word${i}` });
    const d3 = doc(p, 'a', 'd3');
    p.deleteDoc('a', 'd3', d3.rev);
    const lines = [...p.snapshotLines()];
    const r = store('n2');
    r.installSnapshot(parseLines(lines), 1, 'n1');
    const everything = (s: Store) => s.listDbs(end(s)).map((db) => JSON.parse(s.allDocsJson(db, { skip: 0, limit: 1000, includeDeleted: true }, end(s))));
    expect(everything(r)).toEqual(everything(p));
    expect(r.listDbs(end(r))).toEqual(['a', 'b']);
    expect(JSON.parse(r.searchJson('a', 'word5', { skip: 0, limit: 10 }, end(r))).total).toBe(1);
    expect(r.state()).toMatchObject({ lastSeq: p.state().lastSeq, oldestSeq: p.state().lastSeq + 1, role: 'replica', ready: true });
    p.putDoc('a', 'late', undefined, { data: {} });
    ship(p, r, p.state().lastSeq - 1);
    expect(doc(r, 'a', 'late')).toEqual(doc(p, 'a', 'late'));
  });

  it('refuses a stream without its end line and leaves the node as it was', () => {
    const p = store();
    p.createDb('a');
    const r = store('n2');
    const lines = parseLines([...p.snapshotLines()]);
    expect(code(() => r.installSnapshot(lines.slice(0, -1), 1, 'n1'))).toBe('bad_request');
    expect(r.listDbs(end(r))).toEqual([]);
  });

  it('one install at a time; an aborted install leaves nothing behind', () => {
    const p = store();
    p.createDb('a');
    const r = store('n2');
    r.beginSnapshot(1);
    expect(code(() => r.beginSnapshot(1))).toBe('unavailable');
    r.stageSnapshot(parseLines([...p.snapshotLines()]).slice(0, -1));
    r.abortSnapshot();
    expect(r.listDbs(end(r))).toEqual([]);
    expect(r.installSnapshot(parseLines([...p.snapshotLines()]), 1, 'n1')).toMatchObject({ lastSeq: 1 });
    expect(r.listDbs(end(r))).toEqual(['a']);
  });

  it('the snapshot stream is one consistent seq while writes go on', () => {
    const p = store();
    p.createDb('a');
    p.putDoc('a', 'x', undefined, { data: {} });
    const it = p.snapshotLines();
    const first = it.next();
    p.putDoc('a', 'y', undefined, { data: {} });
    const rest = [first.value as string, ...it];
    const parsed = parseLines(rest);
    expect(parsed.filter((l) => l.type === 'doc').map((l) => (l as { doc: Doc }).doc.id)).toEqual(['x']);
    expect(parsed.at(-1)).toMatchObject({ type: 'end', seq: 2, docs: 1, dbs: 1 });
  });
});

describe('Group commit', () => {
  it('runs many concurrent writes in fewer transactions, each caller getting its own result', async () => {
    const s = store();
    s.createDb('a');
    const gc = new GroupCommit(s);
    const writes = Array.from({ length: 200 }, (_, i) => gc.run(() => s.putDoc('a', `d${i}`, undefined, { data: { i } })));
    // One of the batch conflicts; it must fail alone.
    const bad = gc.run(() => s.putDoc('a', 'd0', '1-0000000000000000000000000000000000000000', { data: {} }));
    const results = await Promise.all(writes);
    await expect(bad).rejects.toMatchObject({ code: 'conflict' });
    expect(gc.stats.writes).toBe(201);
    expect(gc.stats.transactions).toBeLessThan(gc.stats.writes);
    results.forEach((r, i) => {
      expect(r.body).toMatchObject({ id: `d${i}`, data: { i } });
      expect(doc(s, 'a', `d${i}`).rev).toBe(r.body.rev);
    });
    expect(new Set(results.map((r) => r.body.seq)).size).toBe(200);
    expect(s.entries(0).map((e) => e.seq)).toEqual(Array.from({ length: 201 }, (_, i) => i + 1));
  });

  it('with group commit off, every write is its own transaction', async () => {
    const s = store();
    s.createDb('a');
    const gc = new GroupCommit(s, { enabled: false });
    await Promise.all(Array.from({ length: 10 }, (_, i) => gc.run(() => s.putDoc('a', `d${i}`, undefined, { data: {} }))));
    expect(gc.stats).toEqual({ transactions: 10, writes: 10 });
  });
});
