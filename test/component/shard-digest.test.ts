import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TesseraError } from '../../src/core/errors.ts';
import type { Doc, ReplicateRequest } from '../../src/core/protocol.ts';
import { digestAt, digestDocs } from '../../shard/store/digest.ts';
import { Store } from '../../shard/store/index.ts';

/** A doc's body as of the end of the store's log (these stores have no router to tell them a commit point), or null. */
function atEnd(s: Store, db: string, id: string): string | null {
  return s.getDoc(db, id, undefined, s.last().seq).body;
}

// A copy's documents "as of seq S" (shard/store/digest.ts) and the `repair`
// entry (protocol.ts RepairImage) on real SQLite files: the view at S ignores
// later writes, refuses what it cannot show, and a repair makes a replica's
// row the primary's — and survives a rollback of the repair entry itself.

const root = mkdtempSync(join(tmpdir(), 'tessera-digest-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const open: Store[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});
let n = 0;
function store(nodeId: string): Store {
  const s = new Store({ path: join(root, `${nodeId}-${n++}.db`), nodeId, shardId: 0, initial: { role: nodeId === 'p' ? 'primary' : 'replica', primaryId: 'p', joined: true }, walRetention: 100_000 });
  open.push(s);
  return s;
}

function ship(from: Store, to: Store, opts: Partial<ReplicateRequest> = {}) {
  const prevSeq = to.last().seq;
  const entries = from.entries(prevSeq);
  const st = from.state();
  return to.replicate({ term: st.term, primaryId: from.nodeId, commitSeq: st.lastSeq, prevSeq, prevTerm: to.last().term, entries, truncate: true, ...opts });
}

async function notAtSeq(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TesseraError && err.code === 'not_at_seq') return String(err.details.reason);
    throw err;
  }
  throw new Error('expected not_at_seq');
}

describe('digest as of a seq', () => {
  it('shows each document as it was at S: later updates, creations and deletes are not seen', async () => {
    const p = store('p');
    p.createDb('a');
    const x1 = p.putDoc('a', 'x', undefined, { data: { v: 1 } }).body;
    const s = p.putDoc('a', 'y', undefined, { data: { v: 1 } }).body.seq;
    const atS = await digestDocs(p.path, s, 0, new Set([0]));
    p.putDoc('a', 'x', x1.rev, { data: { v: 2 } });
    p.putDoc('a', 'z', undefined, { data: { v: 1 } });
    p.deleteDoc('a', 'y', (JSON.parse(atEnd(p, 'a', 'y')!) as Doc).rev);
    const later = await digestDocs(p.path, s, 0, new Set([0]));
    expect(later.docs).toEqual(atS.docs);
    expect(later.docs.map((d) => [d.id, d.rev])).toEqual([['x', x1.rev], ['y', expect.stringMatching(/^1-/)]]);
    const now = await digestDocs(p.path, p.last().seq, 0, new Set([0]));
    expect(now.docs.map((d) => [d.id, d.rev.slice(0, 2), d.deleted])).toEqual([['x', '2-', false], ['y', '2-', true], ['z', '1-', false]]);
    expect((await digestAt(p.path, s, 4)).leaves).toEqual((await digestAt(p.path, s, 4)).leaves);
    expect((await digestAt(p.path, s, 4)).leaves).not.toEqual((await digestAt(p.path, p.last().seq, 4)).leaves);
  });

  it('two copies with the same log have the same digest; a body changed behind the rev does not', async () => {
    const p = store('p');
    const r = store('r');
    p.createDb('a');
    for (let i = 0; i < 50; i++) p.putDoc('a', `d${i}`, undefined, { data: { i } });
    ship(p, r);
    const seq = p.last().seq;
    expect((await digestAt(r.path, seq, 8)).leaves).toEqual((await digestAt(p.path, seq, 8)).leaves);
    const Database = (await import('better-sqlite3')).default;
    const file = new Database(r.path);
    file.prepare(`UPDATE docs SET body = json_set(body, '$.data.i', 999) WHERE id = 'd3'`).run();
    file.close();
    const [a, b] = [await digestAt(p.path, seq, 8), await digestAt(r.path, seq, 8)];
    expect(a.leaves.filter((l, i) => l !== b.leaves[i])).toHaveLength(1);
  });

  it('refuses what it cannot show: a seq not reached, a db deleted since, a trimmed log', async () => {
    const p = store('p');
    p.createDb('a');
    p.putDoc('a', 'x', undefined, { data: {} });
    expect(await notAtSeq(digestAt(p.path, p.last().seq + 1, 4))).toBe('behind');
    const before = p.last().seq;
    p.createDb('b');
    // A db created after S is not in the view at S.
    expect((await digestAt(p.path, before, 4)).dbs).toEqual(['a']);
    p.deleteDb('a');
    expect(await notAtSeq(digestAt(p.path, before, 4))).toBe('db_deleted_since');
    expect((await digestAt(p.path, p.last().seq, 4)).dbs).toEqual(['b']);
    const q = new Store({ path: join(root, `q-${n++}.db`), nodeId: 'p', shardId: 0, initial: { role: 'primary', primaryId: 'p', joined: true }, walRetention: 100 });
    open.push(q);
    q.createDb('a');
    for (let i = 0; i < 300; i++) q.putDoc('a', `d${i}`, undefined, { data: { i } });
    q.noteCommitSeq(q.last().seq);
    q.putDoc('a', 'last', undefined, { data: {} });
    expect(q.trim(1)).toBeGreaterThan(0);
    expect(await notAtSeq(digestAt(q.path, 5, 4))).toBe('trimmed');
  });
});

describe('repair entries', () => {
  it('make a damaged replica\'s row the primary\'s, through the log, and answer retries as the primary would', async () => {
    const p = store('p');
    const r = store('r');
    p.createDb('a');
    const x = p.putDoc('a', 'x', undefined, { data: { v: 1 } }).body;
    p.putDoc('a', 'gone', undefined, { data: {} });
    ship(p, r);
    // Damage behind the log's back: a changed body, a missing document, an extra one.
    const Database = (await import('better-sqlite3')).default;
    const file = new Database(r.path);
    file.prepare(`UPDATE docs SET body = json_set(body, '$.data.v', 666) WHERE id = 'x'`).run();
    file.prepare(`DELETE FROM docs WHERE id = 'gone'`).run();
    file.prepare(`INSERT INTO docs (db, id, rev, deleted, body, seq, parent_rev, created) VALUES ('a', 'ghost', '1-${'0'.repeat(40)}', 0, '{"id":"ghost","rev":"1-${'0'.repeat(40)}","data":{}}', 2, NULL, 1)`).run();
    file.close();
    const seq = p.last().seq;
    expect((await digestAt(r.path, seq, 6)).leaves).not.toEqual((await digestAt(p.path, seq, 6)).leaves);

    for (const id of ['x', 'gone', 'ghost']) {
      const res = p.repair('a', id);
      expect(res.entries).toHaveLength(1);
      expect(res.entries[0]!.op).toBe('repair');
    }
    ship(p, r);
    const after = p.last().seq;
    expect((await digestAt(r.path, after, 6)).leaves).toEqual((await digestAt(p.path, after, 6)).leaves);
    const { seq: _seq, ...xDoc } = x;
    expect(JSON.parse(atEnd(r, 'a', 'x')!)).toEqual(xDoc);
    expect(atEnd(r, 'a', 'ghost')).toBeNull();
    // The repaired row is the primary's: same seq, so a promoted replica answers a retry like the first time.
    const img = p.entries(seq)[0]!.doc as unknown as { seq: number; parentRev: string | null; created: boolean };
    expect(img).toMatchObject({ seq: x.seq, parentRev: null, created: true });
  });

  it('a repair entry rolled back leaves the committed revision, not an older one', async () => {
    const p = store('p');
    const r = store('r');
    p.createDb('a');
    const v1 = p.putDoc('a', 'x', undefined, { data: { v: 1 } }).body;
    const v2 = p.putDoc('a', 'x', v1.rev, { data: { v: 2 } }).body;
    ship(p, r);
    const committed = p.last().seq;
    p.repair('a', 'x');
    ship(p, r, { commitSeq: committed });
    // A new primary (term 2) without the repair entry truncates it away on r.
    r.vote({ term: 2, candidateId: 'n', lastTerm: 1, lastSeq: committed });
    const res = r.replicate({ term: 2, primaryId: 'n', commitSeq: committed, prevSeq: committed, prevTerm: 1, entries: [], truncate: true });
    expect(res.rolledBack).toBe(1);
    expect(JSON.parse(atEnd(r, 'a', 'x')!)).toEqual({ id: 'x', rev: v2.rev, data: { v: 2 } });
  });
});
