// `tessera/client`: the TypeScript client of a Tessera cluster (README
// "Client library"). It depends on undici alone (and src/core's error
// registry, which it reads as data).
export { TesseraClient, type ClientOptions, type RetryInfo, type RequestSpec, type Answer } from './client.ts';
export { Database, newDocId, type UpdateOptions, type Updater } from './database.ts';
export {
  TesseraClientError, BadRequestError, UnauthorizedError, ForbiddenError, NotFoundError, MethodNotAllowedError, ConflictError,
  PayloadTooLargeError, UnsupportedMediaTypeError, InternalError, NoPrimaryError, QuorumNotMetError, UnavailableError,
  NetworkError, AbortError, TooManyConflictsError, IdempotencyKeyReusedError, ERROR_CLASSES, errorFromAnswer, type Outcome, type KnownCode,
} from './errors.ts';
export { DEFAULT_RETRY, classify, decideRetry, parseRetryAfter, type RetryPolicy, type AttemptResult, type RetryDecision } from './retry.ts';
export type * from './types.ts';
