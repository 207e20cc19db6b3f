import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TesseraError, errors } from '../errors.ts';

/**
 * Maps every failure to the one wire shape `{ok:false, error, message, ...}`
 * (DESIGN §4). Fastify's own errors (schema validation, body parsing, body
 * size, media type) become `bad_request` / `payload_too_large` /
 * `unsupported_media_type` with the offending path; unknown fields are named.
 * A known path with another method is a 405 with `Allow`, an unknown one a
 * JSON 404. Anything else is a 500 `internal` and logged.
 */
export function installErrorHandling(app: FastifyInstance, opts: { maxDocBytes: number }): void {
  const routes = collectRoutes(app);
  app.setErrorHandler((err: FastifyError | TesseraError, req: FastifyRequest, reply: FastifyReply) => {
    const e = toTesseraError(err, { maxDocBytes: opts.maxDocBytes, req });
    if (e.code === 'internal') req.log.error({ err }, 'unhandled error');
    else req.log.debug({ code: e.code, msg: e.message }, 'request failed');
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    return reply.status(e.status).send(e.toBody());
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    const allow = routes.allowed(path);
    if (allow.length > 0) {
      const e = new TesseraError('method_not_allowed', `${req.method} is not allowed on ${path}; allowed: ${allow.join(', ')}`, { allow });
      return reply.status(405).header('allow', allow.join(', ')).send(e.toBody());
    }
    const e = new TesseraError('not_found', `No route ${req.method} ${path}`);
    return reply.status(404).send(e.toBody());
  });
}

/** Every route's method and path pattern, collected as routes are added (for 405 `Allow`). */
function collectRoutes(app: FastifyInstance): { allowed(path: string): string[] } {
  const patterns: Array<{ re: RegExp; methods: Set<string> }> = [];
  const byUrl = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    let methods = byUrl.get(route.url);
    if (!methods) {
      methods = new Set();
      byUrl.set(route.url, methods);
      const re = route.url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
      patterns.push({ re: new RegExp(`^${re}$`), methods });
    }
    for (const m of [route.method].flat()) methods.add(m);
  });
  return {
    allowed(path) {
      const out = new Set<string>();
      for (const p of patterns) if (p.re.test(path)) for (const m of p.methods) out.add(m);
      if (out.has('GET')) out.add('HEAD');
      return [...out].sort();
    },
  };
}

/** Fields whose refusal deserves more than "unknown field". */
const UNSUPPORTED_FIELDS: Record<string, string> = {
  selector: 'Mango selectors are not supported: use equalsMap, numericField/min/max (POST _find/fields) or allOf/anyOf/noneOf (POST _find/tags)',
};

type Validation = { keyword?: string; instancePath?: string; message?: string; params?: Record<string, unknown> };

export function toTesseraError(err: unknown, ctx: { maxDocBytes: number; req?: FastifyRequest }): TesseraError {
  if (err instanceof TesseraError) return err;
  const fe = err as FastifyError & { validation?: Validation[]; validationContext?: string };
  if (fe?.validation) return validationError(fe.validation[0], fe.validationContext ?? 'body', ctx.req);
  switch (fe?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.tooLarge(ctx.maxDocBytes);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new TesseraError('unsupported_media_type', `Content-Type must be application/json (got ${describeType(ctx.req)})`, { expected: 'application/json' });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new TesseraError('bad_request', fe.message);
  }
  if (fe instanceof SyntaxError || fe?.statusCode === 400) return new TesseraError('bad_request', fe.message);
  if (fe?.statusCode === 413) return errors.tooLarge(ctx.maxDocBytes);
  if (fe?.statusCode === 415) return new TesseraError('unsupported_media_type', 'Content-Type must be application/json', { expected: 'application/json' });
  if (fe?.statusCode === 404) return new TesseraError('not_found', fe.message);
  return new TesseraError('internal', 'Internal error');
}

function describeType(req: FastifyRequest | undefined): string {
  const t = req?.headers['content-type'];
  return typeof t === 'string' && t.length > 0 ? JSON.stringify(t.slice(0, 100)) : 'none';
}

function validationError(first: Validation | undefined, where: string, req: FastifyRequest | undefined): TesseraError {
  const at = `${where}${first?.instancePath?.replaceAll('/', '.') ?? ''}`;
  if (first?.keyword === 'additionalProperties') {
    const unknown = unknownKeys(first, where, req);
    const special = unknown.find((k) => Object.hasOwn(UNSUPPORTED_FIELDS, k));
    if (special) return new TesseraError('bad_request', `${at}.${special}: ${UNSUPPORTED_FIELDS[special]}`, { path: `${at}.${special}`, unknown });
    const what = where === 'querystring' ? 'parameter' : 'field';
    return new TesseraError('bad_request', `${at}: unknown ${what}${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`, { path: at, unknown });
  }
  const missing = first?.params?.missingProperty;
  const path = `${at}${missing ? `.${String(missing)}` : ''}`;
  return new TesseraError('bad_request', `${path}: ${first?.message ?? 'invalid'}`, { path });
}

/**
 * All unknown keys of the object that failed (ajv reports only the first):
 * the top-level body or query string, read against the route's schema.
 */
function unknownKeys(first: Validation, where: string, req: FastifyRequest | undefined): string[] {
  const one = String(first.params?.additionalProperty ?? '?');
  if (!req || (first.instancePath ?? '') !== '') return [one];
  const schema = (req.routeOptions.schema as Record<string, { properties?: Record<string, unknown> } | undefined> | undefined)?.[where];
  const value = where === 'querystring' ? req.query : where === 'body' ? req.body : undefined;
  if (!schema?.properties || value === null || typeof value !== 'object') return [one];
  const keys = Object.keys(value).filter((k) => !Object.hasOwn(schema.properties!, k));
  return keys.length > 0 ? keys.slice(0, 20) : [one];
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * Fastify's `clientErrorHandler`: errors Node's HTTP parser raises before a
 * request exists (a NUL byte in the request line, Content-Length with
 * Transfer-Encoding, oversized headers) answered in the registry's shape, then
 * the connection is closed (the stream cannot be trusted past the error).
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e = err.code === 'HPE_HEADER_OVERFLOW'
    ? new TesseraError('headers_too_large', 'Request headers exceed the size limit')
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new TesseraError('bad_request', 'The request did not arrive in time')
      : new TesseraError('bad_request', `Malformed HTTP request (${err.code ?? 'parse error'})`);
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : e.status;
  const body = JSON.stringify(e.toBody());
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}
