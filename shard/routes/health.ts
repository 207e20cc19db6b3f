import type { FastifyInstance } from 'fastify';
import type { Store } from '../store/index.ts';

/** Open probes (no secret): liveness, and readiness = not catching up. */
export async function healthRoutes(app: FastifyInstance, deps: { store: Store }): Promise<void> {
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    const reason = deps.store.notReadyReason();
    if (reason === null) return { ready: true };
    return reply.status(503).send({ ready: false, reason });
  });
}
