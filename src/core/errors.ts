// The one error registry (STYLE §4). Every error a client or a peer can see is
// listed here with its stable code and HTTP status. Clients rebuild typed
// errors from `error` (the code), never from message text. A code, once
// shipped, keeps its meaning (DESIGN §4).

export const ERRORS = {
  bad_request: { status: 400, message: 'The request is malformed' },
  unauthorized: { status: 401, message: 'Missing or wrong credentials (Authorization: Bearer <token>)' },
  forbidden: { status: 403, message: 'The credentials do not allow this request' },
  not_found: { status: 404, message: 'Not found' },
  method_not_allowed: { status: 405, message: 'Method not allowed on this path' },
  conflict: { status: 409, message: 'Document update conflict' },
  payload_too_large: { status: 413, message: 'Request body too large' },
  unsupported_media_type: { status: 415, message: 'Content-Type must be application/json' },
  headers_too_large: { status: 431, message: 'Request headers too large' },
  idempotency_key_reused: { status: 422, message: 'This Idempotency-Key was used for a different request' },
  no_primary: { status: 503, message: 'The shard has no primary right now' },
  quorum_not_met: { status: 503, message: 'The write did not reach a quorum in time' },
  internal: { status: 500, message: 'Internal error' },
  // Internal, between router and shard nodes.
  not_primary: { status: 409, message: 'This node is not the primary' },
  stale_term: { status: 409, message: 'Term mismatch' },
  gap: { status: 409, message: 'Entries do not follow this node\'s log' },
  gone: { status: 410, message: 'The log no longer holds the requested entries' },
  unavailable: { status: 503, message: 'Service unavailable' },
  /** A node cannot show its documents as of the seq asked (anti-entropy digests): `reason` says why. */
  not_at_seq: { status: 409, message: 'This copy cannot be shown as of that seq' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An expected failure with a stable code; `details` are merged into the body. */
export class TesseraError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, details: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    super(message ?? ERRORS[code].message);
    this.name = 'TesseraError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
    this.headers = headers;
  }

  toBody(): ErrorBody {
    return { ...this.details, ok: false, error: this.code, message: this.message };
  }
}

export interface ErrorBody {
  ok: false;
  error: string;
  message: string;
  [key: string]: unknown;
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** Rebuilds a TesseraError from a wire body (a peer's answer). */
export function fromBody(body: unknown, status: number): TesseraError {
  const b = (body ?? {}) as Partial<ErrorBody>;
  const code = isErrorCode(b.error) ? b.error : status >= 500 ? 'internal' : 'bad_request';
  const { ok: _ok, error: _e, message, ...details } = b;
  return new TesseraError(code, typeof message === 'string' ? message : undefined, details);
}

export const errors = {
  badRequest: (message: string, details?: Record<string, unknown>) => new TesseraError('bad_request', message, details),
  notFound: (message: string) => new TesseraError('not_found', message),
  conflict: (message = ERRORS.conflict.message, details?: Record<string, unknown>) => new TesseraError('conflict', message, details),
  /** The one 413 message, whichever limit was hit (the body's or a document's). */
  tooLarge: (limit: number) => new TesseraError('payload_too_large', `Too large: a document may be at most ${limit} bytes (limits.maxDocBytes)`, { limit }),
};
