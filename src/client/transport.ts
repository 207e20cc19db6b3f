import { Agent, type Dispatcher } from 'undici';
import { AbortError, NetworkError } from './errors.ts';

// One HTTP attempt against one router URL: a deadline, the caller's signal,
// JSON in and out. Failures without an answer become NetworkError, with
// `notDelivered` only when the router provably never got the request.

export interface AttemptRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path and query string. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export interface AttemptAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or the text when the body is not JSON, or null when empty. */
  body: unknown;
}

/** Connection-level codes that prove the request never reached the peer. */
const NOT_DELIVERED = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export class Transport {
  readonly #dispatcher: Dispatcher;
  readonly #owned: boolean;
  readonly #headers: Record<string, string>;

  constructor(opts: { dispatcher?: Dispatcher | undefined; token?: string | undefined; connections?: number | undefined; ca?: string | Buffer | undefined }) {
    this.#owned = opts.dispatcher === undefined;
    this.#dispatcher = opts.dispatcher ?? new Agent({
      connections: opts.connections ?? 64, keepAliveTimeout: 10_000, connectTimeout: 2_000, ...(opts.ca !== undefined ? { connect: { ca: opts.ca } } : {}),
    });
    this.#headers = { accept: 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) };
  }

  async attempt(baseUrl: string, req: AttemptRequest): Promise<AttemptAnswer> {
    if (req.signal?.aborted) throw new AbortError(req.signal.reason);
    const deadline = AbortSignal.timeout(req.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, deadline]) : deadline;
    const headers: Record<string, string> = { ...this.#headers, ...req.headers };
    let payload: string | undefined;
    if (req.body !== undefined) {
      payload = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    const url = new URL(req.path, baseUrl);
    try {
      const res = await this.#dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: req.method,
        headers,
        body: payload,
        signal,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
      const text = await res.body.text();
      let body: unknown = null;
      if (text.length > 0) {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      return { status: res.statusCode, headers: res.headers, body };
    } catch (err) {
      if (req.signal?.aborted) throw new AbortError(req.signal.reason);
      const code = (err as { code?: string }).code;
      const timedOut = deadline.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
      const notDelivered = !timedOut && code !== undefined && NOT_DELIVERED.has(code);
      const what = timedOut ? `no answer within ${req.timeoutMs} ms` : (err as Error).message;
      throw new NetworkError(baseUrl, `${req.method} ${url.origin}${url.pathname}: ${what}`, { notDelivered, timedOut, causeCode: code, cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#dispatcher.close();
  }
}
