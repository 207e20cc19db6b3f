import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { UserConfig } from '../../src/core/config/index.ts';
import { TesseraError } from '../../src/core/errors.ts';
import { authenticate, decideAccess, type Need, type Principal } from '../../src/core/http/access.ts';

// The client API's access check (DESIGN §3 `auth`): each route says what it
// needs in its `config.need`; this onRequest hook (before validation, so a
// caller without a token learns nothing about the input rules) decides with
// src/core/http/access.ts. Without an `auth` block every route is open.

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a client route needs from the caller's role. */
    need?: Need;
  }
  interface FastifyRequest {
    /** The authenticated caller, null when auth is off or on open routes. */
    principal: Principal | null;
  }
}

export function installAccess(app: FastifyInstance, users: ReadonlyArray<UserConfig> | undefined): void {
  app.decorateRequest('principal', null);
  if (!users) return;
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const need = req.routeOptions.config.need;
    if (!need) return;
    const db = (req.params as { db?: unknown } | undefined)?.db;
    const a = decideAccess(authenticate(users, req.headers.authorization), need, typeof db === 'string' ? db : undefined);
    if (a.kind !== 'allow') throw denied(a.kind, a.reason);
    req.principal = a.principal;
  });
}

export function denied(kind: 'unauthorized' | 'forbidden', reason: string): TesseraError {
  return new TesseraError(kind, reason, {}, kind === 'unauthorized' ? { 'www-authenticate': 'Bearer realm="tessera"' } : {});
}
