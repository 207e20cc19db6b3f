import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { TesseraError } from '../src/core/errors.ts';
import type { Clock } from '../src/core/clock.ts';
import type { Config } from '../src/core/config/index.ts';
import { clientErrorHandler, installErrorHandling } from '../src/core/http/error-handler.ts';
import { installJsonBodies } from '../src/core/http/json-body.ts';
import { installOpenApi, packageVersion } from '../src/core/http/openapi.ts';
import type { Logger } from '../src/core/logger.ts';
import { installMetrics, type Registry, type RouterMetrics } from '../src/core/metrics.ts';
import type { Failover } from './failover/wiring.ts';
import { documentRoutes } from './api/document-routes.ts';
import { operatorRoutes } from './api/operator-routes.ts';
import { backupRoutes } from './api/backup-routes.ts';
import type { RouterContext } from './api/scatter.ts';
import type { Shards } from './replication/shards.ts';
import { verifyRoutes } from './verify/routes.ts';
import { uiRoutes } from './ui/routes.ts';

// The router's HTTP app (STYLE §6): built here, listened on in main.ts, so
// component tests drive it with inject() against fake shard nodes.

export interface RouterAppDeps {
  config: Readonly<Config>;
  shards: Shards;
  clock: Clock;
  logger?: Logger;
  registry?: Registry;
  metrics?: RouterMetrics;
  failover?: Failover;
  /** Serve HTTPS with this certificate and key (DESIGN §3 `tls`). */
  https?: { cert: Buffer; key: Buffer };
}

/** Room for the JSON around a document at the size limit (rev, tags, envelope). */
const BODY_SLACK_BYTES = 64 * 1024;

export function build(deps: RouterAppDeps): FastifyInstance {
  const { config } = deps;
  const app = Fastify({
    ...(deps.https ? { https: { cert: deps.https.cert, key: deps.https.key } } : {}),
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    // No type coercion: a wrong type is the client's error (query numbers are digit patterns, see schemas.ts).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    bodyLimit: config.limits.maxDocBytes + BODY_SLACK_BYTES,
    // Long ids must reach the schema (a clear 400), not fastify's router (414).
    routerOptions: { maxParamLength: 1024 },
    // Errors fastify raises before routing (e.g. an even longer param) get our shape too.
    frameworkErrors: (err, _req, reply) => {
      void (reply as FastifyReply).code(400).send(new TesseraError('bad_request', err.message).toBody());
    },
    // Errors of the HTTP parser itself (NUL bytes, CL+TE, oversized headers) too.
    clientErrorHandler,
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  installErrorHandling(app, { maxDocBytes: config.limits.maxDocBytes });
  // Response schemas document the answers (OpenAPI); they do not serialise
  // them: fast-json-stringify would drop every field a schema does not name.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installJsonBodies(app);
  // Before every route: the document is collected from the routes registered after it.
  installOpenApi(app, {
    title: 'Tessera router',
    version: packageVersion(),
    description: 'Client API of a sharded JSON document store whose shards are quorum-replicated replica sets, and its operator endpoints. '
      + 'Every error is {ok:false, error, message, ...} with a stable code. Besides the responses listed per operation, any request may get: '
      + '404 not_found (no such path), 405 method_not_allowed with Allow (a known path, another method), '
      + '400 bad_request or 431 headers_too_large when the HTTP parser refuses the request (connection closed).',
  });
  if (deps.registry) installMetrics(app, deps.registry);
  app.addHook('onResponse', async (req, reply) => {
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });
  const ctx: RouterContext = {
    shards: deps.shards,
    clock: deps.clock,
    writeTimeoutMs: config.replication.writeTimeoutMs,
    readQuorum: config.replication.readQuorum,
    allowUnsafeQuorum: config.replication.allowUnsafeQuorum,
    metrics: deps.metrics,
    ...(deps.failover ? { failover: deps.failover } : {}),
  };
  // Long polls would hold shutdown for up to a minute: answer them now.
  app.addHook('preClose', async () => {
    ctx.closing = true;
    for (const rt of deps.shards.list) rt.releaseLongPolls();
  });
  // Bulk bodies may carry many documents: the node accepts up to 16 at the size limit.
  app.register(documentRoutes(ctx, config.limits.maxDocBytes * 16, config.auth?.users));
  app.register(operatorRoutes(ctx, config.replication, config.cluster.secret, config.auth?.users));
  app.register(verifyRoutes(ctx, config.cluster.secret, config.auth?.users));
  app.register(uiRoutes(app, ctx, config.replication));
  app.register(backupRoutes(ctx, { secret: config.cluster.secret, bodyLimit: config.limits.maxDocBytes * 16, commitWaitMs: config.replication.writeTimeoutMs }));
  return app;
}
