import type { ErrorCode } from '../core/errors.ts';

// Typed errors of the client, rebuilt from the stable `error` code of an
// answer (src/core/errors.ts is the registry), never from its message text
// (STYLE §4). A code this client does not know yet still becomes a
// TesseraClientError with that code, classed by status.

/** What an answer said about a write that failed (DESIGN §4 "write outcomes"). */
export type Outcome = 'not_applied' | 'indeterminate' | 'partial';

/** Every code the client has a class for: the registry's codes and those the contract lists (DESIGN §4). */
export type KnownCode = ErrorCode | 'forbidden' | 'unsupported_media_type' | 'method_not_allowed';

/** An error answer from a router: `{ok:false, error, message, ...details}`. */
export class TesseraClientError extends Error {
  /** The stable code (`conflict`, `no_primary`, ...). */
  readonly code: string;
  readonly status: number;
  /** Everything else the body carried (`outcome`, `acks`, `shard`, `id`, ...). */
  readonly details: Readonly<Record<string, unknown>>;
  /** `Retry-After` in ms, when the answer had one. */
  readonly retryAfterMs: number | undefined;

  constructor(code: string, status: number, message: string, details: Record<string, unknown> = {}, retryAfterMs?: number) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = details;
    this.retryAfterMs = retryAfterMs;
  }

  /** The write's outcome as the router stated it, if it did. */
  get outcome(): Outcome | undefined {
    const o = this.details.outcome;
    return o === 'not_applied' || o === 'indeterminate' || o === 'partial' ? o : undefined;
  }
}

export class BadRequestError extends TesseraClientError {}
export class UnauthorizedError extends TesseraClientError {}
export class ForbiddenError extends TesseraClientError {}
export class NotFoundError extends TesseraClientError {}
export class MethodNotAllowedError extends TesseraClientError {}
/** 409: the rev given is not the document's current rev. */
export class ConflictError extends TesseraClientError {}
export class PayloadTooLargeError extends TesseraClientError {}
export class UnsupportedMediaTypeError extends TesseraClientError {}
/** 422: this Idempotency-Key was already used for another request (the client mints one per request). */
export class IdempotencyKeyReusedError extends TesseraClientError {}
export class InternalError extends TesseraClientError {}
/** 503 `no_primary`: the shard had no primary; the write was not applied. */
export class NoPrimaryError extends TesseraClientError {}
/** 503 `quorum_not_met`: the write may or may not become durable (`outcome: indeterminate`). */
export class QuorumNotMetError extends TesseraClientError {}
/** 503 `unavailable`: no copy answered a read, or the router is shutting down. */
export class UnavailableError extends TesseraClientError {}

type ErrorClass = new (code: string, status: number, message: string, details?: Record<string, unknown>, retryAfterMs?: number) => TesseraClientError;

/**
 * Code → class. Internal codes (`not_primary`, `stale_term`, `gap`, `gone`, `not_at_seq`)
 * never reach a client from a router, but an operator may point the client
 * at a node: they keep the base class with their code.
 */
export const ERROR_CLASSES: Readonly<Record<KnownCode, ErrorClass>> = {
  bad_request: BadRequestError,
  unauthorized: UnauthorizedError,
  forbidden: ForbiddenError,
  not_found: NotFoundError,
  method_not_allowed: MethodNotAllowedError,
  conflict: ConflictError,
  payload_too_large: PayloadTooLargeError,
  unsupported_media_type: UnsupportedMediaTypeError,
  idempotency_key_reused: IdempotencyKeyReusedError,
  // 431 from the HTTP parser (src/core/http/error-handler.ts): the request's headers were too large.
  headers_too_large: BadRequestError,
  internal: InternalError,
  no_primary: NoPrimaryError,
  quorum_not_met: QuorumNotMetError,
  unavailable: UnavailableError,
  not_primary: TesseraClientError,
  stale_term: TesseraClientError,
  gap: TesseraClientError,
  gone: TesseraClientError,
  not_at_seq: TesseraClientError,
};

/** Rebuilds the typed error of an error answer from its `error` code. */
export function errorFromAnswer(status: number, body: unknown, retryAfterMs?: number): TesseraClientError {
  const b = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const code = typeof b.error === 'string' ? b.error : status >= 500 ? 'internal' : 'bad_request';
  const message = typeof b.message === 'string' ? b.message : `HTTP ${status}${typeof body === 'string' && body ? `: ${body.slice(0, 200)}` : ''}`;
  const { ok: _ok, error: _error, message: _message, ...details } = b;
  const cls = Object.hasOwn(ERROR_CLASSES, code) ? ERROR_CLASSES[code as KnownCode] : TesseraClientError;
  return new cls(code, status, message, details, retryAfterMs);
}

/**
 * No answer came back (connection refused or reset, a timeout). `notDelivered`
 * is true only when the router provably never got the request (connection
 * refused, connect timeout): only then was a write certainly not applied.
 */
export class NetworkError extends Error {
  readonly url: string;
  readonly notDelivered: boolean;
  readonly timedOut: boolean;
  readonly causeCode: string | undefined;
  constructor(url: string, message: string, opts: { notDelivered: boolean; timedOut: boolean; causeCode?: string | undefined; cause?: unknown }) {
    super(message, { cause: opts.cause });
    this.name = opts.timedOut ? 'TimeoutError' : 'NetworkError';
    this.url = url;
    this.notDelivered = opts.notDelivered;
    this.timedOut = opts.timedOut;
    this.causeCode = opts.causeCode;
  }
}

/** The caller's AbortSignal ended the operation. */
export class AbortError extends Error {
  constructor(reason?: unknown) {
    super(reason instanceof Error ? reason.message : 'The operation was aborted', { cause: reason });
    this.name = 'AbortError';
  }
}

/** `update()` gave up: the document kept changing under it (409 each time). */
export class TooManyConflictsError extends ConflictError {}
