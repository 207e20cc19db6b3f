import { randomBytes } from 'node:crypto';
import type { Answer, RequestSpec } from './client.ts';
import { AbortError, ConflictError, NotFoundError, TooManyConflictsError } from './errors.ts';
import type {
  AllDocsPage, BulkInput, BulkResult, CallOptions, ChangesPage, DbInfo, DeleteResult, Doc, DocInput, FieldsQuery, MinimalWrite,
  Page, ReadMode, TagsQuery, WriteOptions, Written,
} from './types.ts';

// One database of the cluster, typed by its documents' `data`: the document
// routes, revision helpers, and async iterators over `_all_docs` pages and
// the `_changes` feed.

interface Requester {
  request(spec: RequestSpec): Promise<Answer>;
}

export const dbPath = (db: string) => `/v1/db/${encodeURIComponent(db)}`;

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A 20-character [A-Za-z0-9] id (the router's own format). `insert` picks the
 * id itself so that repeating a POST whose outcome is unknown names the same
 * document: the node then answers it like the first time (DESIGN §4 retry
 * rule) even where the router does not keep Idempotency-Keys.
 */
export function newDocId(): string {
  let id = '';
  while (id.length < 20) {
    for (const b of randomBytes(32)) {
      if (b >= 248) continue; // 248 = 62 × 4: keeps every character equally likely
      id += ID_ALPHABET[b % 62];
      if (id.length === 20) break;
    }
  }
  return id;
}

export interface UpdateOptions extends CallOptions {
  /** Rounds of read → change → write before giving up on 409s (default 10). */
  maxAttempts?: number;
  /** Read mode of the reads in between (default `primary`: the latest committed rev). */
  read?: ReadMode;
}

/** What `update()`'s callback returns: the new content, or undefined to leave the document as it is. */
export type Updater<T extends object> = (current: Doc<T> | null) => DocInput<T> | undefined | Promise<DocInput<T> | undefined>;

export class Database<T extends object = Record<string, unknown>> {
  readonly name: string;
  readonly #c: Requester;
  readonly #path: string;

  constructor(client: Requester, name: string) {
    this.#c = client;
    this.name = name;
    this.#path = dbPath(name);
  }

  async info(opts: CallOptions = {}): Promise<DbInfo> {
    return (await this.#c.request({ method: 'GET', path: this.#path, ...opts })).body as DbInfo;
  }

  #doc(id: string): string {
    return `${this.#path}/docs/${encodeURIComponent(id)}`;
  }

  /** The document (NotFoundError when absent or deleted); `rev` reads an older revision if kept. */
  async get(id: string, opts: CallOptions & { rev?: string; read?: ReadMode } = {}): Promise<Doc<T>> {
    const q = new URLSearchParams();
    if (opts.rev !== undefined) q.set('rev', opts.rev);
    if (opts.read !== undefined) q.set('read', opts.read);
    const qs = q.size > 0 ? `?${q}` : '';
    return (await this.#c.request({ ...opts, method: 'GET', path: `${this.#doc(id)}${qs}` })).body as Doc<T>;
  }

  /** Like get(), but null when the document does not exist. */
  async getOrNull(id: string, opts: CallOptions & { read?: ReadMode } = {}): Promise<Doc<T> | null> {
    try {
      return await this.get(id, opts);
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  }

  /**
   * A conditional read: `If-None-Match: "<rev>"`; a 304 (or, from a router
   * that sends no ETag, the same rev) means unchanged.
   */
  async getIfChanged(id: string, knownRev: string, opts: CallOptions = {}): Promise<{ changed: false } | { changed: true; doc: Doc<T> }> {
    const a = await this.#c.request({ ...opts, method: 'GET', path: this.#doc(id), headers: { 'if-none-match': `"${knownRev}"` } });
    if (a.status === 304) return { changed: false };
    const doc = a.body as Doc<T>;
    return doc.rev === knownRev ? { changed: false } : { changed: true, doc };
  }

  /** Creates a document; its id is chosen here unless given (see newDocId). */
  insert(input: DocInput<T> & { id?: string }, opts?: WriteOptions & { minimal?: false }): Promise<Written<T>>;
  insert(input: DocInput<T> & { id?: string }, opts: WriteOptions & { minimal: true }): Promise<MinimalWrite>;
  async insert(input: DocInput<T> & { id?: string }, opts: WriteOptions = {}): Promise<Written<T> | MinimalWrite> {
    const body = { ...input, id: input.id ?? newDocId() };
    return (await this.#c.request({ ...opts, method: 'POST', path: `${this.#path}/docs`, body, headers: prefer(opts) })).body as Written<T>;
  }

  /** Creates (no `rev`) or updates (`rev` = the current rev, else ConflictError) a document. */
  put(id: string, input: DocInput<T>, opts?: WriteOptions & { rev?: string; minimal?: false }): Promise<Written<T>>;
  put(id: string, input: DocInput<T>, opts: WriteOptions & { rev?: string; minimal: true }): Promise<MinimalWrite>;
  async put(id: string, input: DocInput<T>, opts: WriteOptions & { rev?: string } = {}): Promise<Written<T> | MinimalWrite> {
    const body = { ...input, ...(opts.rev !== undefined ? { rev: opts.rev } : {}) };
    return (await this.#c.request({ ...opts, method: 'PUT', path: this.#doc(id), body, headers: prefer(opts) })).body as Written<T>;
  }

  /** Deletes (writes a tombstone); `rev` must be the current rev. */
  async delete(id: string, rev: string, opts: CallOptions = {}): Promise<DeleteResult> {
    return (await this.#c.request({ ...opts, method: 'DELETE', path: `${this.#doc(id)}?rev=${encodeURIComponent(rev)}` })).body as DeleteResult;
  }

  /**
   * Read → change → write with the current rev, again on 409 (someone wrote
   * in between). `fn` gets the current document (null when absent) and may be
   * called several times, so it must compute from its argument only.
   * Returns the written document, or the current one when `fn` returned undefined.
   */
  async update(id: string, fn: Updater<T>, opts: UpdateOptions = {}): Promise<Written<T> | Doc<T> | null> {
    const rounds = opts.maxAttempts ?? 10;
    const { maxAttempts: _m, read, ...call } = opts;
    for (let round = 1; ; round++) {
      const current = await this.getOrNull(id, { ...call, ...(read ? { read } : {}) });
      const next = await fn(current);
      if (next === undefined) return current;
      try {
        return await this.put(id, next, { ...call, ...(current ? { rev: current.rev } : {}) });
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        if (round >= rounds) {
          throw new TooManyConflictsError(err.code, err.status, `${id}: still conflicting after ${rounds} rounds: ${err.message}`, { ...err.details });
        }
      }
    }
  }

  /** Many writes in one call; one result per document, in order (per-document errors are results, not throws). */
  async bulk(docs: ReadonlyArray<BulkInput<T>>, opts: CallOptions = {}): Promise<BulkResult[]> {
    const withIds = docs.map((d) => (d.id === undefined ? { ...d, id: newDocId() } : d));
    return (await this.#c.request({ ...opts, method: 'POST', path: `${this.#path}/_bulk_docs`, body: { docs: withIds } })).body as BulkResult[];
  }

  /** One `_all_docs` page. */
  async allDocsPage(q: { limit?: number; startAfter?: string; skip?: number; includeDeleted?: boolean } = {}, opts: CallOptions = {}): Promise<AllDocsPage<T>> {
    const qs = new URLSearchParams();
    if (q.limit !== undefined) qs.set('limit', String(q.limit));
    if (q.startAfter !== undefined) qs.set('startAfter', q.startAfter);
    if (q.skip !== undefined) qs.set('skip', String(q.skip));
    if (q.includeDeleted) qs.set('includeDeleted', 'true');
    return (await this.#c.request({ ...opts, method: 'GET', path: `${this.#path}/_all_docs${qs.size > 0 ? `?${qs}` : ''}` })).body as AllDocsPage<T>;
  }

  /** Every document in id order, a page at a time (`pageSize`, default 100), from after `startAfter`. */
  async *allDocs(q: { pageSize?: number; startAfter?: string; includeDeleted?: boolean } = {}, opts: CallOptions = {}): AsyncGenerator<Doc<T>, void, undefined> {
    let after = q.startAfter;
    for (;;) {
      const page = await this.allDocsPage({ limit: q.pageSize ?? 100, ...(after !== undefined ? { startAfter: after } : {}), ...(q.includeDeleted ? { includeDeleted: true } : {}) }, opts);
      for (const doc of page.items) yield doc;
      if (page.next === null || page.items.length === 0) return;
      after = page.next;
    }
  }

  async findFields(q: FieldsQuery, opts: CallOptions = {}): Promise<Page<T>> {
    return (await this.#c.request({ ...opts, method: 'POST', path: `${this.#path}/_find/fields`, body: q, readOnly: true })).body as Page<T>;
  }

  async findTags(q: TagsQuery, opts: CallOptions = {}): Promise<Page<T>> {
    return (await this.#c.request({ ...opts, method: 'POST', path: `${this.#path}/_find/tags`, body: q, readOnly: true })).body as Page<T>;
  }

  async search(q: string, page: { skip?: number; limit?: number } = {}, opts: CallOptions = {}): Promise<Page<T>> {
    const qs = new URLSearchParams({ q });
    if (page.skip !== undefined) qs.set('skip', String(page.skip));
    if (page.limit !== undefined) qs.set('limit', String(page.limit));
    return (await this.#c.request({ ...opts, method: 'GET', path: `${this.#path}/_search?${qs}` })).body as Page<T>;
  }

  /** One page of committed changes after `since` (absent: from the start); `longpollMs` waits for one. */
  async changes(q: { since?: string; limit?: number; longpollMs?: number } = {}, opts: CallOptions & Pick<RequestSpec, 'retry'> = {}): Promise<ChangesPage> {
    const qs = new URLSearchParams();
    if (q.since !== undefined) qs.set('since', q.since);
    if (q.limit !== undefined) qs.set('limit', String(q.limit));
    if (q.longpollMs !== undefined) {
      qs.set('feed', 'longpoll');
      qs.set('timeout', String(q.longpollMs));
    }
    // A long poll answers after up to longpollMs: the attempt's limit must leave it that long.
    const timeoutMs = opts.timeoutMs ?? (q.longpollMs !== undefined ? q.longpollMs + 10_000 : undefined);
    return (await this.#c.request({ ...opts, ...(timeoutMs !== undefined ? { timeoutMs } : {}), method: 'GET', path: `${this.#path}/_changes${qs.size > 0 ? `?${qs}` : ''}` })).body as ChangesPage;
  }

  /**
   * Follows the feed: yields each non-empty page of changes as it is
   * committed, long-polling in between, until `signal` aborts (the iterator
   * then ends quietly) or the consumer stops. Resume later from a page's
   * `last`. Unreachable routers and 503s are waited out (backoff, failover
   * between URLs), never thrown; a 4xx (a cursor from another cluster) is.
   */
  async *follow(q: { since?: string; limit?: number; longpollMs?: number; signal?: AbortSignal } = {}): AsyncGenerator<ChangesPage, void, undefined> {
    let since = q.since;
    const longpollMs = q.longpollMs ?? 30_000;
    for (;;) {
      let page: ChangesPage;
      try {
        page = await this.changes({ ...(since !== undefined ? { since } : {}), ...(q.limit !== undefined ? { limit: q.limit } : {}), longpollMs }, {
          ...(q.signal ? { signal: q.signal } : {}), deadlineMs: Number.POSITIVE_INFINITY, retry: { maxAttempts: Number.POSITIVE_INFINITY },
        });
      } catch (err) {
        if (err instanceof AbortError) return;
        throw err;
      }
      since = page.last;
      if (page.results.length > 0) yield page;
      if (q.signal?.aborted) return;
    }
  }
}

function prefer(opts: WriteOptions): Record<string, string> {
  return opts.minimal ? { prefer: 'return=minimal' } : {};
}
