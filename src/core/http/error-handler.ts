import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TesseraError } from '../errors.ts';

/**
 * Maps every failure to the one wire shape `{ok:false, error, message, ...}`
 * (DESIGN §4). Fastify's own errors (schema validation, body parsing, body
 * size) become `bad_request` / `payload_too_large` with the offending path.
 * Unknown routes get a JSON 404. Anything else is a 500 `internal` and logged.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | TesseraError, req: FastifyRequest, reply: FastifyReply) => {
    const e = toTesseraError(err);
    if (e.code === 'internal') req.log.error({ err }, 'unhandled error');
    else req.log.debug({ code: e.code, msg: e.message }, 'request failed');
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    return reply.status(e.status).send(e.toBody());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new TesseraError('not_found', `No route ${req.method} ${req.url.split('?')[0]}`);
    return reply.status(404).send(e.toBody());
  });
}

export function toTesseraError(err: unknown): TesseraError {
  if (err instanceof TesseraError) return err;
  const fe = err as FastifyError & { validation?: Array<{ instancePath?: string; message?: string; params?: Record<string, unknown> }>; validationContext?: string };
  if (fe?.validation) {
    const first = fe.validation[0];
    const missing = first?.params?.missingProperty;
    const path = `${fe.validationContext ?? 'body'}${first?.instancePath?.replaceAll('/', '.') ?? ''}${missing ? `.${String(missing)}` : ''}`;
    return new TesseraError('bad_request', `${path}: ${first?.message ?? 'invalid'}`, { path });
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new TesseraError('payload_too_large', fe.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new TesseraError('bad_request', fe.message);
  }
  if (fe instanceof SyntaxError || fe?.statusCode === 400) return new TesseraError('bad_request', fe.message);
  if (fe?.statusCode === 413) return new TesseraError('payload_too_large', fe.message);
  if (fe?.statusCode === 404) return new TesseraError('not_found', fe.message);
  return new TesseraError('internal', 'Internal error');
}
