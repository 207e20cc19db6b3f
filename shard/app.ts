import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Config } from '../src/core/config/index.ts';
import { TesseraError } from '../src/core/errors.ts';
import { shardFor } from '../src/core/hash.ts';
import { clientErrorHandler, installErrorHandling } from '../src/core/http/error-handler.ts';
import { installJsonBodies } from '../src/core/http/json-body.ts';
import type { Logger } from '../src/core/logger.ts';
import { installRequestMetrics, type Registry } from '../src/core/metrics.ts';
import { REPLICATION_PREFIX } from '../src/core/protocol.ts';
import { requireSecret } from './routes/auth-hook.ts';
import { documentRoutes, healthRoutes, replicationRoutes, restoreRoutes, verifyRoutes } from './routes/index.ts';
import type { GroupCommit, Store } from './store/index.ts';

export interface ShardAppDeps {
  store: Store;
  commit: GroupCommit;
  config: Readonly<Config>;
  /** Request logs go here at debug level; omit for a silent app (tests). */
  logger?: Logger;
  newId?: () => string;
  /** Served at GET /metrics (behind the secret, like every internal route). */
  registry?: Registry;
  /** Called before each scrape (refresh gauges from the store). */
  beforeScrape?: () => void;
  /** Serve HTTPS with this certificate and key (DESIGN §3 `tls`). */
  https?: { cert: Buffer; key: Buffer };
}

/** Slack above maxDocBytes for the JSON around a document (rev, tags...). */
const BODY_SLACK_BYTES = 64 * 1024;
const MAX_BATCH_BYTES = 256 * 1024 * 1024;

/**
 * The shard node's HTTP app (never listens; main.ts does). Two encapsulated
 * plugins with their own secret check: the document API and the internal
 * replication API; the probes and the JSON 404 are open.
 */
export async function build(deps: ShardAppDeps): Promise<FastifyInstance> {
  const maxDocBytes = deps.config.limits.maxDocBytes;
  const app = Fastify({
    ...(deps.https ? { https: { cert: deps.https.cert, key: deps.https.key } } : {}),
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: maxDocBytes + BODY_SLACK_BYTES,
    // Long ids must reach the schema (a clear 400), not fastify's router (414).
    routerOptions: { maxParamLength: 1024 },
    // Errors fastify raises before routing (e.g. an even longer param) get our shape too.
    frameworkErrors: (err, _req, reply) => {
      void (reply as FastifyReply).code(400).send(new TesseraError('bad_request', err.message).toBody());
    },
    // Errors of the HTTP parser itself (NUL bytes, CL+TE, oversized headers) too.
    clientErrorHandler,
    // Wrong types are the client's error, never silently coerced; query
    // strings are validated as digit patterns and converted by the handlers.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  installErrorHandling(app, { maxDocBytes });
  installJsonBodies(app);
  // Before the route plugins, so the hook counts every one of them.
  if (deps.registry) installRequestMetrics(app, deps.registry);
  if (deps.logger) {
    app.addHook('onResponse', async (req, reply) => {
      req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
    });
  }
  const secret = deps.config.cluster.secret;
  // A node holds only its own shard's documents (DESIGN §5.3 placement).
  const shardCount = deps.config.shards.length;
  const owns = (id: string) => shardFor(id, shardCount) === deps.store.shardId;
  const newId = deps.newId ?? (() => randomUUID());
  await app.register(healthRoutes, { store: deps.store });
  await app.register(documentRoutes, {
    store: deps.store,
    commit: deps.commit,
    secret,
    maxDocBytes,
    owns,
    // An id made here (an operator's POST straight to a node) must land on this shard too.
    newId: () => {
      for (;;) {
        const id = newId();
        if (owns(id)) return id;
      }
    },
  });
  await app.register(replicationRoutes, { prefix: REPLICATION_PREFIX, store: deps.store, secret, owns, maxBatchBytes: MAX_BATCH_BYTES });
  await app.register(verifyRoutes, { prefix: REPLICATION_PREFIX, store: deps.store, commit: deps.commit, secret });
  await app.register(restoreRoutes, { store: deps.store, commit: deps.commit, secret, owns, bodyLimit: maxDocBytes * 16 });
  const registry = deps.registry;
  if (registry) {
    await app.register(async (scope) => {
      scope.addHook('onRequest', requireSecret(secret));
      scope.get('/metrics', async (_req, reply) => {
        deps.beforeScrape?.();
        return reply.type(registry.contentType).send(await registry.metrics());
      });
    });
  }
  return app;
}
