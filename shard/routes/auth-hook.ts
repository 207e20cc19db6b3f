import type { FastifyRequest } from 'fastify';
import { TesseraError } from '../../src/core/errors.ts';
import { bearerChecker } from '../../src/core/http/auth.ts';

/** onRequest hook: every route of the plugin needs the cluster secret (DESIGN §5.2). */
export function requireSecret(secret: string): (req: FastifyRequest) => Promise<void> {
  const check = bearerChecker(secret);
  return async (req) => {
    if (!check(req.headers.authorization)) throw new TesseraError('unauthorized');
  };
}
