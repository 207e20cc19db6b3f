import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.ts';
import { MAX_BODY_DEPTH, textDepthExceeds } from '../doc/limits.ts';

/**
 * The only body parser of both apps: `application/json`, read as text, its
 * nesting counted without recursion before JSON.parse (V8's parser is
 * iterative, but everything after it recurses). Any other content type is a
 * 415 (fastify's text/plain parser is removed). An empty JSON body is no body.
 */
export function installJsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0) return done(null, undefined);
    if (textDepthExceeds(text, MAX_BODY_DEPTH)) return done(errors.badRequest(`body: nested deeper than ${MAX_BODY_DEPTH} levels`, { path: 'body' }));
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(errors.badRequest(`body: invalid JSON: ${(err as Error).message}`, { path: 'body' }));
    }
  });
}
