import Database from 'better-sqlite3';
import { TesseraError, errors } from '../../src/core/errors.ts';
import type { Doc, LogEntry } from '../../src/core/protocol.ts';
import type { DocRow, LogRow, StoreContext } from './context.ts';
import { toEntry } from './log.ts';
import { matchesFields, matchesTags, type FieldsQuery, type TagsQuery } from './query-match.ts';

// Reads of the node's documents and log, answered as ready-made JSON where
// the router only forwards them (no parse and re-serialise on the way).
//
// Committed reads (shard/DESIGN.md "Committed reads"): every read is served
// as of a read point `at`, a seq known to be committed, and shows what the
// document held there: the head when it was written at or below `at`, else
// the newest revision at or below `at` (the revisions table keeps every
// revision with its seq). A write above `at` may still be rolled back, so it
// is never shown; a single-document read reports it as `pendingSeq`, so a
// linearizable reader can wait for it to commit. The documents above the read
// point are few (the writes in flight), so the common case is the plain
// query with `seq <= at` added.

export interface ListQuery {
  skip: number;
  limit: number;
}

/** A single-document read: the committed version (null: none), its seq, and a newer uncommitted one's seq. */
export interface DocRead {
  body: string | null;
  seq: number;
  pendingSeq: number | null;
}

/** What a document held at the read point; absent from the map = its head is at or below the read point. */
type Overlay = Map<string, { id: string; body: string; deleted: boolean; seq: number } | null>;

export class Queries {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /**
   * A db created or deleted above the read point: the tables hold the db's
   * state after that op (a delete drops its documents at once), not the
   * committed one. Reads of it wait (503 with the op's seq) until it commits
   * or is rolled back; they are rare and short (one quorum round).
   */
  #checkDbCommitted(db: string, at: number): void {
    const ctx = this.#ctx;
    if (ctx.lastDbOpSeq() <= at) return;
    const pending = (ctx.q.dbOpsAfter.all(at) as Array<{ seq: number; db: string }>).filter((o) => o.db === db).at(-1);
    if (pending) {
      throw new TesseraError('unavailable', `database ${db} is being created or deleted (seq ${pending.seq} is not committed yet)`, { pendingSeq: pending.seq }, { 'retry-after': '1' });
    }
  }

  #requireDbAt(db: string, at: number): void {
    this.#readable(at);
    this.#checkDbCommitted(db, at);
    this.#ctx.requireDb(db);
  }

  /**
   * Below its log's base a copy keeps no history: after a snapshot install
   * (whose end may be above the commit point it knows) it can serve
   * committed reads again once it learns a commit point at or above the
   * snapshot's end, from the router's next batch.
   */
  #readable(at: number): void {
    const base = this.#ctx.meta().baseSeq;
    if (at < base) {
      throw new TesseraError('unavailable', `this copy knows commit point ${at}, below its snapshot at ${base}: not readable until it learns a newer one`, {}, { 'retry-after': '1' });
    }
  }

  #overlay(db: string, at: number): Overlay {
    const { q } = this.#ctx;
    const out: Overlay = new Map();
    for (const { id } of q.pendingDocs.all(db, at) as Array<{ id: string }>) {
      const r = q.revisionAt.get(db, id, at) as { deleted: number; body: string; seq: number } | undefined;
      out.set(id, r ? { id, body: r.body, deleted: r.deleted === 1, seq: r.seq } : null);
    }
    return out;
  }

  /** The dbs at the read point: the table's, with the db ops above it undone (newest first). */
  listDbs(at: number): string[] {
    const ctx = this.#ctx;
    this.#readable(at);
    const names = new Set((ctx.q.listDbs.all() as Array<{ name: string }>).map((r) => r.name));
    if (ctx.lastDbOpSeq() > at) {
      const ops = ctx.q.dbOpsAfter.all(at) as Array<{ op: string; db: string }>;
      for (let i = ops.length - 1; i >= 0; i--) {
        const o = ops[i]!;
        if (o.op === 'db_create') names.delete(o.db);
        else names.add(o.db);
      }
    }
    return [...names].sort();
  }

  dbInfo(db: string, at: number): { db: string; docCount: number; deletedCount: number; seq: number } {
    const { q } = this.#ctx;
    this.#readable(at);
    this.#checkDbCommitted(db, at);
    const row = q.getDb.get(db) as { seq: number } | undefined;
    if (!row) throw errors.notFound(`database ${db} not found`);
    const c = q.dbCountsAt.get(db, at) as { live: number | null; dead: number | null; seq: number | null };
    let live = c.live ?? 0;
    let dead = c.dead ?? 0;
    let seq = Math.max(row.seq, c.seq ?? 0);
    for (const v of this.#overlay(db, at).values()) {
      if (v === null) continue;
      if (v.deleted) dead++;
      else live++;
      seq = Math.max(seq, v.seq);
    }
    return { db, docCount: live, deletedCount: dead, seq };
  }

  /** The doc as of `at` (head, or `rev` if kept and committed); body null when there is none there. */
  getDoc(db: string, id: string, rev: string | undefined, at: number): DocRead {
    const { q } = this.#ctx;
    this.#requireDbAt(db, at);
    if (rev !== undefined) {
      const r = q.revisionSeq.get(db, id, rev) as { body: string; seq: number } | undefined;
      if (!r) return { body: null, seq: 0, pendingSeq: null };
      return r.seq <= at ? { body: r.body, seq: r.seq, pendingSeq: null } : { body: null, seq: 0, pendingSeq: r.seq };
    }
    const row = q.getHead.get(db, id) as DocRow | undefined;
    if (!row) return { body: null, seq: 0, pendingSeq: null };
    if (row.seq <= at) return { body: row.deleted === 1 ? null : row.body, seq: row.seq, pendingSeq: null };
    const r = q.revisionAt.get(db, id, at) as { deleted: number; body: string; seq: number } | undefined;
    return { body: r && r.deleted === 0 ? r.body : null, seq: r?.seq ?? 0, pendingSeq: row.seq };
  }

  /** `{total, items, next}` in id order, as JSON. */
  allDocsJson(db: string, page: ListQuery & { startAfter?: string; includeDeleted: boolean }, at: number): string {
    const { q } = this.#ctx;
    this.#requireDbAt(db, at);
    const after = page.startAfter ?? '';
    const overlay = this.#overlay(db, at);
    let total = (q.countLiveAt.get(db, at) as { n: number }).n;
    const extra: Array<{ id: string; body: string }> = [];
    for (const v of overlay.values()) {
      if (v === null) continue;
      if (!v.deleted) total++;
      if (v.id > after && (page.includeDeleted || !v.deleted)) extra.push(v);
    }
    const stmt = page.includeDeleted ? q.pageAllAt : q.pageLiveAt;
    let items: Array<{ id: string; body: string }>;
    let more: boolean;
    if (extra.length === 0) {
      // The common case: nothing above the read point, SQL pages on its own.
      const rows = stmt.all(db, after, at, page.limit + 1, page.skip) as Array<{ id: string; body: string }>;
      more = rows.length > page.limit;
      items = more ? rows.slice(0, page.limit) : rows;
    } else {
      const want = page.skip + page.limit + 1;
      const merged = mergeById(stmt.all(db, after, at, want, 0) as Array<{ id: string; body: string }>, extra).slice(0, want);
      items = merged.slice(page.skip, page.skip + page.limit);
      more = merged.length > page.skip + page.limit;
    }
    const next = more ? items.at(-1)?.id ?? null : null;
    return `{"total":${total},"items":[${items.map((r) => r.body).join(',')}],"next":${JSON.stringify(next)}}`;
  }

  findFieldsJson(db: string, query: FieldsQuery & ListQuery, at: number): string {
    return this.#scan(db, (doc) => matchesFields(doc, query), query, at);
  }

  findTagsJson(db: string, query: TagsQuery & ListQuery, at: number): string {
    return this.#scan(db, (doc) => matchesTags(doc, query), query, at);
  }

  #scan(db: string, match: (doc: Doc) => boolean, page: ListQuery, at: number): string {
    this.#requireDbAt(db, at);
    const extra = [...this.#overlay(db, at).values()].filter((v): v is NonNullable<typeof v> => v !== null && !v.deleted).sort(byId);
    let total = 0;
    const items: string[] = [];
    const take = (body: string) => {
      if (!match(JSON.parse(body) as Doc)) return;
      if (total >= page.skip && items.length < page.limit) items.push(body);
      total++;
    };
    let k = 0;
    for (const row of this.#ctx.q.scanLiveAt.iterate(db, at) as IterableIterator<{ id: string; body: string }>) {
      while (k < extra.length && extra[k]!.id < row.id) take(extra[k++]!.body);
      take(row.body);
    }
    while (k < extra.length) take(extra[k++]!.body);
    return `{"total":${total},"items":[${items.join(',')}]}`;
  }

  /**
   * FTS5 over `content`; a malformed query is the client's error. The index
   * holds heads: documents above the read point are matched as they were at
   * it, through a scratch FTS table of their committed versions.
   */
  searchJson(db: string, text: string, page: ListQuery, at: number): string {
    const { q } = this.#ctx;
    this.#requireDbAt(db, at);
    try {
      let total = (q.searchCountAt.get(text, db, at) as { n: number }).n;
      const rows = q.searchIdsAt.all(text, db, at, page.skip + page.limit) as Array<{ id: string; body: string }>;
      const extra = this.#matchOverlay(db, at, text);
      total += extra.length;
      const items = [...rows, ...extra].slice(page.skip, page.skip + page.limit);
      return `{"total":${total},"items":[${items.map((r) => r.body).join(',')}]}`;
    } catch (err) {
      if (err instanceof Database.SqliteError && /fts5|syntax|no such column|unterminated/i.test(err.message)) {
        throw errors.badRequest(`querystring.q: invalid full-text query: ${err.message}`, { path: 'querystring.q' });
      }
      throw err;
    }
  }

  #matchOverlay(db: string, at: number, text: string): Array<{ id: string; body: string }> {
    const versions = [...this.#overlay(db, at).values()].filter((v): v is NonNullable<typeof v> => v !== null && !v.deleted);
    const withContent = versions.map((v) => ({ v, content: (JSON.parse(v.body) as Doc).content })).filter((x) => typeof x.content === 'string' && x.content.length > 0);
    if (withContent.length === 0) return [];
    const { db: sqlite } = this.#ctx;
    sqlite.exec('CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_at USING fts5(content)');
    try {
      const insert = sqlite.prepare('INSERT INTO temp.fts_at (rowid, content) VALUES (?, ?)');
      withContent.forEach((x, i) => insert.run(i + 1, x.content));
      const hits = sqlite.prepare('SELECT rowid AS i FROM temp.fts_at WHERE fts_at MATCH ? ORDER BY rank').all(text) as Array<{ i: number }>;
      return hits.map((h) => withContent[h.i - 1]!.v).map((v) => ({ id: v.id, body: v.body }));
    } finally {
      sqlite.exec('DELETE FROM temp.fts_at');
    }
  }

  /**
   * Each doc once, at its latest revision with since < seq <= until. A head
   * above `until` is reported as it was at `until` (so a change committed at
   * 40 is not hidden by an uncommitted write at 41 that is later rolled back).
   */
  changes(db: string, since: number, limit: number, until: number): { results: Array<{ id: string; rev: string; deleted?: true; seq: number }>; last: number } {
    const ctx = this.#ctx;
    this.#requireDbAt(db, until);
    const rows = ctx.q.changes.all(db, since, until, limit) as Array<{ id: string; rev: string; deleted: number; seq: number }>;
    for (const { id } of ctx.q.pendingDocs.all(db, until) as Array<{ id: string }>) {
      const r = ctx.q.revisionAt.get(db, id, until) as { rev: string; deleted: number; seq: number } | undefined;
      if (r && r.seq > since) rows.push({ id, rev: r.rev, deleted: r.deleted, seq: r.seq });
    }
    rows.sort((a, b) => a.seq - b.seq);
    const page = rows.slice(0, limit);
    const results = page.map((r) => (r.deleted ? { id: r.id, rev: r.rev, deleted: true as const, seq: r.seq } : { id: r.id, rev: r.rev, seq: r.seq }));
    // A short page means everything up to `until` (or our log end) was seen.
    const last = page.length === limit ? page.at(-1)!.seq : Math.max(since, Math.min(until, ctx.last().seq));
    return { results, last };
  }

  /** The entries of the log with seq > since (tests and tools). */
  entries(since = 0, limit = 1_000_000): LogEntry[] {
    return (this.#ctx.q.walPage.all(since, limit) as LogRow[]).map(toEntry);
  }

  rollbackEntries(): Array<LogEntry & { rolledBackAt: number; byTerm: number }> {
    return (this.#ctx.q.rollbackRows.all() as Array<LogRow & { rolled_back_at: number; by_term: number }>).map((r) => ({
      ...toEntry(r), rolledBackAt: r.rolled_back_at, byTerm: r.by_term,
    }));
  }
}

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Two id-ordered lists merged in id order (`extra` need not be sorted). */
function mergeById<T extends { id: string }>(rows: readonly T[], extra: readonly T[]): T[] {
  const e = [...extra].sort(byId);
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < rows.length || j < e.length) {
    if (j >= e.length || (i < rows.length && rows[i]!.id < e[j]!.id)) out.push(rows[i++]!);
    else out.push(e[j++]!);
  }
  return out;
}
