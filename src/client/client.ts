import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { IDEMPOTENCY_HEADER } from '../core/protocol.ts';
import { AbortError, errorFromAnswer, NetworkError, type TesseraClientError } from './errors.ts';
import { DEFAULT_RETRY, decideRetry, parseRetryAfter, type AttemptResult, type RetryPolicy } from './retry.ts';
import { Transport, type AttemptAnswer } from './transport.ts';
import { Database, dbPath } from './database.ts';
import type { CallOptions } from './types.ts';

// The client's entry point: router URLs with failover between them, and the
// one request loop every call goes through (retry.ts decides; this file only
// carries it out). A write gets an Idempotency-Key minted once per call and
// sent on every attempt, so a repeat after an unknown outcome is answered
// like the first attempt (DESIGN §4).

export interface ClientOptions {
  /** One router URL or several; a request that cannot get an answer moves on to the next. */
  urls: string | readonly string[];
  /** Bearer token for the client API (config `auth.users`), if the cluster requires one. */
  token?: string;
  /** The CA that signed the routers' certificates (a cluster with `tls`), PEM. */
  ca?: string | Buffer;
  /** One attempt's limit in ms. Default 10000: above the router's writeTimeoutMs (5 s) + 1 s, its own bound. */
  timeoutMs?: number;
  /** One call's limit in ms, retries included. Default 30000. */
  deadlineMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Send an Idempotency-Key with every write (default true); without it an indeterminate write is not retried. */
  idempotencyKeys?: boolean;
  /** An undici Dispatcher (a MockAgent in tests, a ProxyAgent...); default: the client's own Agent, closed by close(). */
  dispatcher?: Dispatcher;
  /** Called before each retry (logging, metrics). */
  onRetry?: (info: RetryInfo) => void;
  /** Tests: jitter source and the wait between attempts. */
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface RetryInfo {
  method: string;
  path: string;
  attempt: number;
  delayMs: number;
  reason: string;
  url: string;
  error: Error;
}

export interface RequestSpec extends CallOptions {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** A POST that writes nothing (`_find`): repeated like a read. */
  readOnly?: boolean;
  /** Overrides for one call (the changes feed never gives up). */
  retry?: Partial<RetryPolicy>;
}

/** What the request loop hands back: a 1xx-3xx answer (4xx/5xx are thrown as typed errors). */
export type Answer = AttemptAnswer;

const defaultSleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (signal?.aborted) return reject(new AbortError(signal.reason));
  const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(timer); reject(new AbortError(signal?.reason)); };
  signal?.addEventListener('abort', onAbort, { once: true });
});

export class TesseraClient {
  readonly urls: readonly string[];
  readonly #transport: Transport;
  readonly #timeoutMs: number;
  readonly #deadlineMs: number;
  readonly #policy: RetryPolicy;
  readonly #keys: boolean;
  readonly #onRetry: ClientOptions['onRetry'];
  readonly #random: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The router URL that answered last: requests stick to it until it fails. */
  #current = 0;

  constructor(opts: ClientOptions) {
    const urls = (typeof opts.urls === 'string' ? [opts.urls] : [...opts.urls]).map((u) => u.replace(/\/+$/, ''));
    if (urls.length === 0) throw new TypeError('TesseraClient: at least one router URL is needed');
    for (const u of urls) {
      const p = new URL(u).protocol;
      if (p !== 'http:' && p !== 'https:') throw new TypeError(`TesseraClient: ${u} is not an http(s) URL`);
    }
    this.urls = urls;
    this.#transport = new Transport({ dispatcher: opts.dispatcher, token: opts.token, ca: opts.ca });
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#deadlineMs = opts.deadlineMs ?? 30_000;
    this.#policy = { ...DEFAULT_RETRY, ...opts.retry };
    this.#keys = opts.idempotencyKeys ?? true;
    this.#onRetry = opts.onRetry;
    this.#random = opts.random ?? Math.random;
    this.#sleep = opts.sleep ?? defaultSleep;
  }

  /** A database handle; `T` types the documents' `data`. */
  db<T extends object = Record<string, unknown>>(name: string): Database<T> {
    return new Database<T>(this, name);
  }

  async listDbs(opts: CallOptions = {}): Promise<string[]> {
    return ((await this.request({ method: 'GET', path: '/v1/db', ...opts })).body as { dbs: string[] }).dbs;
  }

  /** Creates the database on every shard; `created` is false when it existed. */
  async createDb(name: string, opts: CallOptions = {}): Promise<{ ok: true; db: string; created: boolean }> {
    const a = await this.request({ method: 'PUT', path: dbPath(name), ...opts });
    return { ...(a.body as { ok: true; db: string }), created: a.status === 201 };
  }

  async deleteDb(name: string, opts: CallOptions = {}): Promise<{ ok: true; db: string }> {
    return (await this.request({ method: 'DELETE', path: dbPath(name), ...opts })).body as { ok: true; db: string };
  }

  /** `GET /v1/_cluster`: shards, nodes, roles, terms, lag, health. */
  async cluster(opts: CallOptions = {}): Promise<{ shards: Array<Record<string, unknown>> }> {
    return (await this.request({ method: 'GET', path: '/v1/_cluster', ...opts })).body as { shards: Array<Record<string, unknown>> };
  }

  /** The request loop: attempts, failover between URLs, retries as retry.ts decides. Errors are typed. */
  async request(spec: RequestSpec): Promise<Answer> {
    const write = spec.method !== 'GET' && spec.readOnly !== true;
    const headers: Record<string, string> = { ...spec.headers };
    if (write && this.#keys && headers[IDEMPOTENCY_HEADER] === undefined) headers[IDEMPOTENCY_HEADER] = randomUUID();
    const keyed = headers[IDEMPOTENCY_HEADER] !== undefined;
    const policy = { ...this.#policy, ...spec.retry };
    const deadline = Date.now() + (spec.deadlineMs ?? this.#deadlineMs);
    for (let attempt = 1; ; attempt++) {
      const url = this.urls[this.#current]!;
      const remaining = deadline - Date.now();
      let result: AttemptResult;
      let error: TesseraClientError | NetworkError;
      try {
        const answer = await this.#transport.attempt(url, {
          method: spec.method, path: spec.path, body: spec.body, headers,
          timeoutMs: Math.max(1, Math.min(spec.timeoutMs ?? this.#timeoutMs, remaining)), signal: spec.signal,
        });
        if (answer.status < 400) return answer;
        const retryAfterMs = parseRetryAfter(answer.headers['retry-after'], Date.now());
        error = errorFromAnswer(answer.status, answer.body, retryAfterMs);
        result = { kind: 'answer', status: answer.status, code: error.code, outcome: error.outcome, retryAfterMs };
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
        error = err;
        result = { kind: 'network', notDelivered: err.notDelivered, timedOut: err.timedOut };
      }
      const d = decideRetry(result, { idempotent: !write, keyed, attempt, policy, remainingMs: deadline - Date.now(), random: this.#random() });
      if (!d.retry) throw error;
      if (d.switchRouter && this.urls.length > 1) this.#current = (this.#current + 1) % this.urls.length;
      this.#onRetry?.({ method: spec.method, path: spec.path, attempt, delayMs: d.delayMs, reason: d.reason, url, error });
      if (d.delayMs > 0) await this.#sleep(d.delayMs, spec.signal);
      else if (spec.signal?.aborted) throw new AbortError(spec.signal.reason);
    }
  }

  /** Closes the client's own connections (not those of a dispatcher passed in). */
  close(): Promise<void> {
    return this.#transport.close();
  }
}
