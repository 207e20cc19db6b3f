import Database, { type Database as Db } from 'better-sqlite3';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { TesseraError } from '../../src/core/errors.ts';
import { docHash, docToken, LeafAccumulator, leafOf } from '../../src/core/merkle.ts';

// A copy's documents as of one seq, hashed for anti-entropy (router/VERIFY.md).
// Read through a second, read-only connection inside one read transaction, so
// writes go on meanwhile and the answer is one consistent state; the scan
// yields to the event loop every CHUNK rows, so a large shard never stalls the
// node's health answers long enough to look dead.
//
// "As of S": a document whose head was written at seq <= S is its head; one
// written later is its newest revision with seq <= S (the revisions table
// keeps every revision a write made, tombstones too); one with neither did
// not exist at S. That view is exact only while the log still shows what
// happened after S, so the answer is refused (409 `not_at_seq`) when the log
// no longer reaches back to S, when a db was deleted after S (its documents'
// revisions are gone), or when the node has not reached S.

const CHUNK = 2000;

export interface DigestPosition {
  seq: number;
  /** Term of the entry at `seq` (the base term when `seq` is the log's base; 0 for seq 0). */
  term: number;
  lastSeq: number;
}

export interface DigestAnswer extends DigestPosition {
  depth: number;
  docs: number;
  /** Databases that existed at `seq`, sorted. */
  dbs: string[];
  /** One per leaf: `count:xorHex`, '' when empty (src/core/merkle.ts). */
  leaves: string[];
}

export interface DigestDoc {
  db: string;
  id: string;
  rev: string;
  deleted: boolean;
  hash: string;
  leaf: number;
}

function notAtSeq(reason: string, message: string, details: Record<string, unknown>): TesseraError {
  return new TesseraError('not_at_seq', message, { reason, ...details });
}

/** Opens the snapshot, checks that `seq` can be shown, and runs `fn` inside the read transaction. */
async function atSeq<T>(path: string, seq: number, fn: (reader: Db, pos: DigestPosition, createdAfter: ReadonlySet<string>) => Promise<T>): Promise<T> {
  const reader = new Database(path, { readonly: true });
  try {
    reader.exec('BEGIN');
    const meta = new Map((reader.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    const baseSeq = Number(meta.get('baseSeq'));
    const baseTerm = Number(meta.get('baseTerm'));
    const last = (reader.prepare('SELECT seq, term FROM log ORDER BY seq DESC LIMIT 1').get() as { seq: number; term: number } | undefined) ?? { seq: baseSeq, term: baseTerm };
    if (meta.get('needsSnapshot') === '1') throw notAtSeq('needs_snapshot', 'this node waits for a snapshot', { lastSeq: last.seq });
    if (last.seq < seq) throw notAtSeq('behind', `this node's log ends at ${last.seq}, before ${seq}`, { lastSeq: last.seq });
    if (seq < baseSeq) throw notAtSeq('trimmed', `this node's log starts after ${seq} (oldest ${baseSeq + 1})`, { lastSeq: last.seq, oldestSeq: baseSeq + 1 });
    const term = seq === baseSeq ? baseTerm : (reader.prepare('SELECT term FROM log WHERE seq = ?').get(seq) as { term: number }).term;
    const deleted = reader.prepare(`SELECT seq, db FROM log WHERE seq > ? AND op = 'db_delete' ORDER BY seq LIMIT 1`).get(seq) as { seq: number; db: string } | undefined;
    if (deleted) throw notAtSeq('db_deleted_since', `db ${deleted.db} was deleted at seq ${deleted.seq}, after ${seq}`, { lastSeq: last.seq, atSeq: deleted.seq });
    const createdAfter = new Set((reader.prepare(`SELECT db FROM log WHERE seq > ? AND op = 'db_create'`).all(seq) as Array<{ db: string }>).map((r) => r.db));
    return await fn(reader, { seq, term, lastSeq: last.seq }, createdAfter);
  } finally {
    try {
      reader.exec('COMMIT');
    } catch {
      // The transaction ended with an error already.
    }
    reader.close();
  }
}

/** Every document (tombstones included) of the copy as of `seq`, in chunks that yield to the event loop. */
async function scanAsOf(reader: Db, seq: number, visit: (db: string, id: string, rev: string, deleted: boolean, body: string) => void): Promise<void> {
  const heads = reader.prepare('SELECT db, id, rev, deleted, body, seq FROM docs').iterate() as IterableIterator<{ db: string; id: string; rev: string; deleted: number; body: string; seq: number }>;
  const older = reader.prepare('SELECT rev, deleted, body FROM revisions WHERE db = ? AND id = ? AND seq <= ? ORDER BY seq DESC LIMIT 1');
  let n = 0;
  for (const row of heads) {
    if (row.seq <= seq) visit(row.db, row.id, row.rev, row.deleted === 1, row.body);
    else {
      const r = older.get(row.db, row.id, seq) as { rev: string; deleted: number; body: string } | undefined;
      if (r) visit(row.db, row.id, r.rev, r.deleted === 1, r.body);
    }
    if (++n % CHUNK === 0) await yieldToLoop();
  }
}

/** The copy's Merkle leaves as of `seq`. */
export function digestAt(path: string, seq: number, depth: number): Promise<DigestAnswer> {
  return atSeq(path, seq, async (reader, pos, createdAfter) => {
    const acc = new LeafAccumulator(depth);
    let docs = 0;
    await scanAsOf(reader, seq, (db, id, _rev, _deleted, body) => {
      docs++;
      acc.add(leafOf(docToken(db, id), depth), docHash(db, JSON.parse(body)));
    });
    const dbs = (reader.prepare('SELECT name FROM dbs ORDER BY name').all() as Array<{ name: string }>).map((r) => r.name).filter((d) => !createdAfter.has(d));
    return { ...pos, depth, docs, dbs, leaves: acc.leaves() };
  });
}

/** The documents of the given leaves as of `seq`, with their hashes, sorted by db then id. */
export function digestDocs(path: string, seq: number, depth: number, leaves: ReadonlySet<number>): Promise<DigestPosition & { docs: DigestDoc[] }> {
  return atSeq(path, seq, async (reader, pos) => {
    const docs: DigestDoc[] = [];
    await scanAsOf(reader, seq, (db, id, rev, deleted, body) => {
      const leaf = leafOf(docToken(db, id), depth);
      if (leaves.has(leaf)) docs.push({ db, id, rev, deleted, hash: docHash(db, JSON.parse(body)).toString('hex'), leaf });
    });
    docs.sort((a, b) => (a.db === b.db ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.db < b.db ? -1 : 1));
    return { ...pos, docs };
  });
}
