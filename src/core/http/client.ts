import { Pool, errors as undiciErrors } from 'undici';
import { fromBody, TesseraError } from '../errors.ts';
import { bearer } from './auth.ts';

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Whole-request deadline in ms (headers and body). */
  timeoutMs: number;
  /** Ends the request early; it then fails like a timeout (its outcome is unknown). */
  signal?: AbortSignal;
}

export interface JsonResponse<T> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Thrown when a peer cannot be reached or does not answer in time. Unlike a
 * TesseraError it says nothing about whether the request took effect.
 */
export class UnreachableError extends Error {
  readonly nodeUrl: string;
  readonly timedOut: boolean;
  /**
   * The peer provably never saw the request: the connection was never made
   * (refused, connect timeout). Anything after the request left — a reset, a
   * close, a timeout — may come after the peer read and acted on it: a reset
   * is also what a peer that dies between its commit and its answer sends
   * when more bytes arrive, so it proves nothing (DESIGN §4 "not_applied").
   */
  readonly notDelivered: boolean;
  constructor(nodeUrl: string, cause: unknown, timedOut: boolean, notDelivered = false) {
    super(`${nodeUrl} unreachable: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'UnreachableError';
    this.nodeUrl = nodeUrl;
    this.timedOut = timedOut;
    this.notDelivered = notDelivered;
  }
}

/**
 * One keep-alive undici Pool per peer (never the global dispatcher). Every
 * request carries the cluster secret and a deadline; a 4xx/5xx with a JSON
 * error body becomes a TesseraError rebuilt from its code.
 */
export class NodeClient {
  readonly url: string;
  readonly #pool: Pool;
  readonly #auth: string;

  /** `ca`: the cluster's CA for an https URL (the peer's certificate is verified against it, and only it). */
  constructor(url: string, secret: string, opts: { connections?: number; ca?: Buffer } = {}) {
    this.url = url;
    this.#auth = bearer(secret);
    this.#pool = new Pool(url, {
      connections: opts.connections ?? 16,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connectTimeout: 2_000,
      ...(opts.ca ? { connect: { ca: opts.ca } } : {}),
    });
  }

  /** Sends and parses JSON; throws TesseraError on an error answer. */
  async json<T>(opts: RequestOptions): Promise<JsonResponse<T>> {
    const res = await this.raw(opts);
    if (res.status >= 400) throw fromBody(res.body, res.status);
    return res as JsonResponse<T>;
  }

  /** Like json() but returns error answers instead of throwing them. */
  async raw(opts: RequestOptions): Promise<JsonResponse<unknown>> {
    const headers: Record<string, string> = { authorization: this.#auth, ...opts.headers };
    let payload: string | undefined;
    // Before the caller's signal gets a listener: a body that cannot be
    // serialised throws here and leaves nothing behind.
    if (opts.body !== undefined) {
      payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const { signal, release } = withCaller(AbortSignal.timeout(opts.timeoutMs), opts.signal);
    try {
      const res = await this.#pool.request({
        method: opts.method ?? 'GET',
        path: opts.path,
        headers,
        body: payload,
        signal,
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      });
      const text = await res.body.text();
      let body: unknown = null;
      if (text.length > 0) {
        try {
          body = JSON.parse(text);
        } catch {
          throw new TesseraError('internal', `non-JSON answer from ${this.url}${opts.path} (${res.statusCode})`);
        }
      }
      return { status: res.statusCode, body, headers: res.headers };
    } catch (err) {
      if (err instanceof TesseraError) throw err;
      const timedOut = signal.aborted || err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError;
      const code = (err as { code?: string }).code;
      const notDelivered = !timedOut && (code === 'ECONNREFUSED' || err instanceof undiciErrors.ConnectTimeoutError);
      throw new UnreachableError(this.url, err, timedOut, notDelivered);
    } finally {
      release();
    }
  }

  /** Streams a request body (snapshot install) or response (snapshot read). */
  get pool(): Pool {
    return this.#pool;
  }

  get authorization(): string {
    return this.#auth;
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  destroy(): Promise<void> {
    return this.#pool.destroy();
  }
}

/**
 * The deadline's signal, also aborted when the caller's is. Done by hand, and
 * released after each request: the caller's signal may live long (a shard
 * view's), and must not collect a listener per request.
 */
function withCaller(deadline: AbortSignal, caller: AbortSignal | undefined): { signal: AbortSignal; release: () => void } {
  if (!caller) return { signal: deadline, release: () => {} };
  const ctrl = new AbortController();
  const release = () => {
    caller.removeEventListener('abort', abort);
    deadline.removeEventListener('abort', abort);
  };
  const abort = () => {
    release();
    ctrl.abort();
  };
  if (caller.aborted || deadline.aborted) abort();
  else {
    caller.addEventListener('abort', abort);
    deadline.addEventListener('abort', abort);
  }
  return { signal: ctrl.signal, release };
}
