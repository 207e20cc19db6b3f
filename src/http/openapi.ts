import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * OpenAPI generated from the route schemas: the document at `/docs/json`, a
 * browsable page at `/docs`. Must be registered before the routes it
 * describes. Routes with `schema.hide` (metrics, internal) are left out.
 */
export async function installOpenApi(app: FastifyInstance, info: { title: string; version: string; description: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info,
      components: {
        securitySchemes: { clusterSecret: { type: 'http', scheme: 'bearer', description: 'cluster.secret from the config' } },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
