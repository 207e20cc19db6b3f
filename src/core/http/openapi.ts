import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';

/** Tags of the router's public API, in the order the browsable page lists them. */
export const OPENAPI_TAGS = [
  { name: 'databases', description: 'Create, list, inspect and delete databases (on every shard)' },
  { name: 'documents', description: 'Read and write single documents, and in bulk' },
  { name: 'queries', description: 'Paged listing, field and tag queries, full-text search, change feed' },
  { name: 'operator', description: 'Liveness, readiness, the cluster table and manual failover' },
  { name: 'backup', description: 'Committed per-shard snapshots and restore writes (tessera backup / restore); the cluster secret' },
] as const;

/**
 * OpenAPI generated from the route schemas: the document at `/docs/json`, a
 * browsable page at `/docs`. Call it before registering the routes it
 * describes: @fastify/swagger collects routes through an onRoute hook, and
 * plugins load in registration order, so registering (not awaiting) here is
 * enough for a synchronous `build()`. Routes with `schema.hide` (metrics,
 * the UI's own assets) are left out.
 */
export function installOpenApi(app: FastifyInstance, info: { title: string; version: string; description: string }): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info,
      tags: [...OPENAPI_TAGS],
      components: {
        securitySchemes: {
          clusterSecret: { type: 'http', scheme: 'bearer', description: 'cluster.secret from the config' },
          clientToken: { type: 'http', scheme: 'bearer', description: 'A client token (tessera token) when the config has an auth block; without one the client API is open' },
        },
      },
    },
  });
  app.register(swaggerUi, { routePrefix: '/docs' });
}

/** The package version, for the document's `info.version`. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}
