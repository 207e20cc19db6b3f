// The shapes of the client API (DESIGN §4), typed by the document's `data`.

/** What a write names: the document's content (its id and rev travel apart). */
export interface DocInput<T extends object = Record<string, unknown>> {
  data: T;
  tags?: string[];
  content?: string;
}

/** A stored document. `rev` is `<n>-<sha1 of the content>`. */
export interface Doc<T extends object = Record<string, unknown>> extends DocInput<T> {
  id: string;
  rev: string;
  deleted?: true;
}

/** What every successful write adds: its log position, its shard, and how many copies were durable. */
export interface WriteMeta {
  seq: number;
  shard: number;
  acks: number;
}

export type Written<T extends object = Record<string, unknown>> = Doc<T> & WriteMeta;

/** The answer to a write sent with `Prefer: return=minimal`. */
export interface MinimalWrite extends WriteMeta {
  ok: true;
  id: string;
  rev: string;
}

export interface DeleteResult extends Partial<WriteMeta> {
  ok: true;
  id: string;
  /** The tombstone's rev. */
  rev: string;
}

export type BulkInput<T extends object = Record<string, unknown>> = Partial<DocInput<T>> & { id?: string; rev?: string; deleted?: boolean };

export type BulkResult =
  | { ok: true; id: string; rev: string; seq?: number }
  | { id: string; error: string; reason: string; outcome?: string };

export interface DbInfo {
  db: string;
  docCount: number;
  deletedCount: number;
  seq: number;
}

export interface Page<T extends object = Record<string, unknown>> {
  total: number;
  items: Array<Doc<T>>;
}

export interface AllDocsPage<T extends object = Record<string, unknown>> extends Page<T> {
  /** The `startAfter` of the next page; null at the end. */
  next: string | null;
}

export interface Change {
  id: string;
  rev: string;
  deleted?: true;
  seq?: number;
}

export interface ChangesPage {
  results: Change[];
  /** Opaque cursor: pass it as `since` to continue after these results. */
  last: string;
}

export type ReadMode = 'primary' | 'any' | 'quorum';

/** Per call: an AbortSignal, the per-attempt timeout and the whole call's deadline (retries included). */
export interface CallOptions {
  signal?: AbortSignal;
  /** One attempt's limit in ms (default: the client's `timeoutMs`). */
  timeoutMs?: number;
  /** The whole call's limit in ms, retries included (default: the client's `deadlineMs`). */
  deadlineMs?: number;
}

export interface WriteOptions extends CallOptions {
  /** Send `Prefer: return=minimal`: the answer carries `{ok,id,rev,seq,shard,acks}` only. */
  minimal?: boolean;
}

export interface FieldsQuery {
  equalsMap?: Record<string, unknown>;
  numericField?: string;
  min?: number;
  max?: number;
  skip?: number;
  limit?: number;
}

export interface TagsQuery {
  allOf?: string[];
  anyOf?: string[];
  noneOf?: string[];
  skip?: number;
  limit?: number;
}
