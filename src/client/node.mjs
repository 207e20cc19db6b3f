// `tessera/client` for plain Node (no TypeScript loader in the consumer's
// process). The package ships its TypeScript sources and has no build step
// (bin/tessera.mjs runs the CLI the same way), so this entry loads them with
// tsx's scoped tsImport: unlike register(), it does not install a loader for
// the consumer's whole process, only for the client's own modules. A
// TypeScript consumer resolves the `types` condition to index.ts instead and
// gets the real types.
import { tsImport } from 'tsx/esm/api';

const m = await tsImport('./index.ts', import.meta.url);

export const {
  TesseraClient, Database, newDocId,
  TesseraClientError, BadRequestError, UnauthorizedError, ForbiddenError, NotFoundError, MethodNotAllowedError, ConflictError,
  PayloadTooLargeError, UnsupportedMediaTypeError, InternalError, NoPrimaryError, QuorumNotMetError, UnavailableError,
  NetworkError, AbortError, TooManyConflictsError, IdempotencyKeyReusedError, ERROR_CLASSES, errorFromAnswer,
  DEFAULT_RETRY, classify, decideRetry, parseRetryAfter,
} = m;
