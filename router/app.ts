import Fastify, { type FastifyInstance } from 'fastify';
import type { Clock } from '../src/clock.ts';
import type { Config } from '../src/config/index.ts';
import { installErrorHandling } from '../src/http/error-handler.ts';
import type { Logger } from '../src/logger.ts';
import { installMetrics, type Registry, type RouterMetrics } from '../src/metrics.ts';
import { documentRoutes } from './routes/documents.ts';
import { operatorRoutes } from './routes/operator.ts';
import type { RouterContext } from './scatter.ts';
import type { Shards } from './shards.ts';

// The router's HTTP app (STYLE §6): built here, listened on in main.ts, so
// component tests drive it with inject() against fake shard nodes.

export interface RouterAppDeps {
  config: Readonly<Config>;
  shards: Shards;
  clock: Clock;
  logger?: Logger;
  registry?: Registry;
  metrics?: RouterMetrics;
}

/** Room for the JSON around a document at the size limit (rev, tags, envelope). */
const BODY_SLACK_BYTES = 64 * 1024;

export function build(deps: RouterAppDeps): FastifyInstance {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger,
    disableRequestLogging: true,
    bodyLimit: config.limits.maxDocBytes + BODY_SLACK_BYTES,
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  installErrorHandling(app);
  if (deps.registry) installMetrics(app, deps.registry);
  app.addHook('onResponse', async (req, reply) => {
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });
  const ctx: RouterContext = {
    shards: deps.shards,
    clock: deps.clock,
    writeTimeoutMs: config.replication.writeTimeoutMs,
    readQuorum: config.replication.readQuorum,
    metrics: deps.metrics,
  };
  app.register(documentRoutes(ctx));
  app.register(operatorRoutes(ctx, config.replication));
  return app;
}
