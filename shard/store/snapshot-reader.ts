import Database from 'better-sqlite3';
import type { SeqTerm } from '../../src/core/protocol.ts';

/**
 * Every db and document (tombstones included) at one seq, the
 * Idempotency-Key records, then `end`. A
 * second read-only connection holds one read transaction for the whole
 * stream, so writes go on meanwhile and the stream stays consistent.
 */
export function* snapshotLines(path: string): Generator<string> {
  const reader = new Database(path, { readonly: true });
  try {
    reader.exec('BEGIN');
    const metaRows = new Map((reader.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    const lastRow = reader.prepare('SELECT seq, term FROM log ORDER BY seq DESC LIMIT 1').get() as SeqTerm | undefined;
    const end = lastRow ?? { seq: Number(metaRows.get('baseSeq')), term: Number(metaRows.get('baseTerm')) };
    let dbs = 0;
    let docs = 0;
    for (const row of reader.prepare('SELECT name FROM dbs ORDER BY name').iterate() as IterableIterator<{ name: string }>) {
      dbs++;
      yield `${JSON.stringify({ type: 'db', name: row.name })}\n`;
    }
    const docRows = reader.prepare('SELECT db, body, seq, parent_rev, created FROM docs ORDER BY db, id')
      .iterate() as IterableIterator<{ db: string; body: string; seq: number; parent_rev: string | null; created: number }>;
    for (const row of docRows) {
      docs++;
      yield `{"type":"doc","db":${JSON.stringify(row.db)},"seq":${row.seq},"parentRev":${JSON.stringify(row.parent_rev)},"created":${row.created === 1},"doc":${row.body}}\n`;
    }
    // Idempotency-Key records: not counted in `end` (a backup leaves them out; they belong to this cluster's clients).
    const idemRows = reader.prepare('SELECT key, seq, fingerprint, status, body, ts FROM idempotency ORDER BY key')
      .iterate() as IterableIterator<{ key: string; seq: number; fingerprint: string; status: number; body: string; ts: number }>;
    for (const r of idemRows) yield `${JSON.stringify({ type: 'idem', ...r })}\n`;
    yield `${JSON.stringify({ type: 'end', seq: end.seq, term: end.term, docs, dbs })}\n`;
    reader.exec('COMMIT');
  } finally {
    reader.close();
  }
}
