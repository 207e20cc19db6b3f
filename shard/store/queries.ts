import Database from 'better-sqlite3';
import { errors } from '../../src/core/errors.ts';
import type { Doc, LogEntry } from '../../src/core/protocol.ts';
import type { DocRow, LogRow, StoreContext } from './context.ts';
import { toEntry } from './log.ts';
import { matchesFields, matchesTags, type FieldsQuery, type TagsQuery } from './query-match.ts';

// Reads of the node's documents and log, answered as ready-made JSON where
// the router only forwards them (no parse and re-serialise on the way).

export interface ListQuery {
  skip: number;
  limit: number;
}

export class Queries {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  listDbs(): string[] {
    return (this.#ctx.q.listDbs.all() as Array<{ name: string }>).map((r) => r.name);
  }

  dbInfo(db: string): { db: string; docCount: number; deletedCount: number; seq: number } {
    const { q } = this.#ctx;
    const row = q.getDb.get(db) as { seq: number } | undefined;
    if (!row) throw errors.notFound(`database ${db} not found`);
    const c = q.dbCounts.get(db) as { live: number | null; dead: number | null; seq: number | null };
    return { db, docCount: c.live ?? 0, deletedCount: c.dead ?? 0, seq: Math.max(row.seq, c.seq ?? 0) };
  }

  /** The doc's JSON (head, or `rev` if kept); not_found for a deleted head. */
  getDoc(db: string, id: string, rev?: string): string {
    const { q } = this.#ctx;
    this.#ctx.requireDb(db);
    if (rev !== undefined) {
      const r = q.getRevision.get(db, id, rev) as { body: string } | undefined;
      if (!r) throw errors.notFound(`document ${id} has no kept revision ${rev}`);
      return r.body;
    }
    const row = q.getHead.get(db, id) as DocRow | undefined;
    if (!row || row.deleted === 1) throw errors.notFound(`document ${id} not found`);
    return row.body;
  }

  /** `{total, items, next}` in id order, as JSON. */
  allDocsJson(db: string, page: ListQuery & { startAfter?: string; includeDeleted: boolean }): string {
    const { q } = this.#ctx;
    this.#ctx.requireDb(db);
    const total = (q.countLive.get(db) as { n: number }).n;
    const after = page.startAfter ?? '';
    const rows = (page.includeDeleted ? q.pageAll : q.pageLive).all(db, after, page.limit + 1, page.skip) as Array<{ id: string; body: string }>;
    const more = rows.length > page.limit;
    const items = more ? rows.slice(0, page.limit) : rows;
    const next = more ? items.at(-1)!.id : null;
    return `{"total":${total},"items":[${items.map((r) => r.body).join(',')}],"next":${JSON.stringify(next)}}`;
  }

  findFieldsJson(db: string, query: FieldsQuery & ListQuery): string {
    return this.#scan(db, (doc) => matchesFields(doc, query), query);
  }

  findTagsJson(db: string, query: TagsQuery & ListQuery): string {
    return this.#scan(db, (doc) => matchesTags(doc, query), query);
  }

  #scan(db: string, match: (doc: Doc) => boolean, page: ListQuery): string {
    this.#ctx.requireDb(db);
    let total = 0;
    const items: string[] = [];
    for (const row of this.#ctx.q.scanLive.iterate(db) as IterableIterator<{ body: string }>) {
      if (!match(JSON.parse(row.body) as Doc)) continue;
      if (total >= page.skip && items.length < page.limit) items.push(row.body);
      total++;
    }
    return `{"total":${total},"items":[${items.join(',')}]}`;
  }

  /** FTS5 over `content`; a malformed query is the client's error. */
  searchJson(db: string, text: string, page: ListQuery): string {
    const { q } = this.#ctx;
    this.#ctx.requireDb(db);
    try {
      const total = (q.searchCount.get(text, db) as { n: number }).n;
      const rows = q.searchPage.all(text, db, page.limit, page.skip) as Array<{ body: string }>;
      return `{"total":${total},"items":[${rows.map((r) => r.body).join(',')}]}`;
    } catch (err) {
      if (err instanceof Database.SqliteError && /fts5|syntax|no such column|unterminated/i.test(err.message)) {
        throw errors.badRequest(`querystring.q: invalid full-text query: ${err.message}`, { path: 'querystring.q' });
      }
      throw err;
    }
  }

  /** Each doc once, at the seq that last wrote it, with since < seq <= until. */
  changes(db: string, since: number, limit: number, until?: number): { results: Array<{ id: string; rev: string; deleted?: true; seq: number }>; last: number } {
    this.#ctx.requireDb(db);
    const top = until ?? Number.MAX_SAFE_INTEGER;
    const rows = this.#ctx.q.changes.all(db, since, top, limit) as Array<{ id: string; rev: string; deleted: number; seq: number }>;
    const results = rows.map((r) => (r.deleted ? { id: r.id, rev: r.rev, deleted: true as const, seq: r.seq } : { id: r.id, rev: r.rev, seq: r.seq }));
    // A short page means everything up to `until` (or our log end) was seen.
    const last = rows.length === limit ? rows.at(-1)!.seq : Math.max(since, Math.min(top, this.#ctx.last().seq));
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
