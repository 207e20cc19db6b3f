import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../router/app.ts';
import { Shards } from '../../router/replication/shards.ts';
import { systemClock } from '../../src/core/clock.ts';
import { parseConfig } from '../../src/core/config/index.ts';
import { createLogger } from '../../src/core/logger.ts';
import { createRouterMetrics, Registry } from '../../src/core/metrics.ts';

// The router's OpenAPI document (/docs/json, generated from the route
// schemas) and its browsable page (/docs). No node is contacted: the
// document and the page come from the app alone.

const config = parseConfig({
  cluster: { name: 'openapi', secret: 'openapi-secret' },
  router: { url: 'http://127.0.0.1:1' },
  dataDir: '/tmp/unused',
  shards: [{ id: 0, nodes: [{ id: 'a', url: 'http://127.0.0.1:2' }, { id: 'b', url: 'http://127.0.0.1:3' }, { id: 'c', url: 'http://127.0.0.1:4' }] }],
}, { baseDir: '/tmp' });

type Operation = {
  summary?: string;
  tags?: string[];
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: Record<string, unknown> }>;
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  security?: unknown[];
};
type OpenApiDoc = { openapi: string; info: { title: string; version: string }; tags: Array<{ name: string }>; paths: Record<string, Record<string, Operation>> };

let app: FastifyInstance;
let shards: Shards;
let doc: OpenApiDoc;

beforeAll(async () => {
  const registry = new Registry();
  shards = new Shards({ config, clock: systemClock, log: createLogger({ name: 'test', level: 'silent' }) });
  app = build({ config, shards, clock: systemClock, registry, metrics: createRouterMetrics(registry) });
  await app.ready();
  const res = await app.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  doc = res.json() as OpenApiDoc;
});

afterAll(async () => {
  await app?.close();
  await shards?.stop();
});

const PUBLIC_ROUTES: Array<[path: string, methods: string[], tag: string]> = [
  ['/v1/db', ['get'], 'databases'],
  ['/v1/db/{db}', ['put', 'get', 'delete'], 'databases'],
  ['/v1/db/{db}/docs', ['post'], 'documents'],
  ['/v1/db/{db}/docs/{id}', ['put', 'get', 'delete'], 'documents'],
  ['/v1/db/{db}/_bulk_docs', ['post'], 'documents'],
  ['/v1/db/{db}/_all_docs', ['get'], 'queries'],
  ['/v1/db/{db}/_find/fields', ['post'], 'queries'],
  ['/v1/db/{db}/_find/tags', ['post'], 'queries'],
  ['/v1/db/{db}/_search', ['get'], 'queries'],
  ['/v1/db/{db}/_changes', ['get'], 'queries'],
  ['/healthz', ['get'], 'operator'],
  ['/readyz', ['get'], 'operator'],
  ['/v1/_cluster', ['get'], 'operator'],
  ['/v1/_cluster/shards/{id}/failover', ['post'], 'operator'],
  ['/v1/_cluster/shards/{id}/verify', ['get'], 'operator'],
  ['/v1/_cluster/shards/{id}/repair', ['post'], 'operator'],
  ['/v1/_backup', ['get'], 'backup'],
  ['/v1/_backup/shards/{id}/snapshot', ['get'], 'backup'],
  ['/v1/_backup/db/{db}', ['put'], 'backup'],
  ['/v1/_backup/db/{db}/docs', ['post'], 'backup'],
];

describe('GET /docs/json', () => {
  it('is an OpenAPI 3 document of the router', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('Tessera router');
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.tags.map((t) => t.name)).toEqual(['databases', 'documents', 'queries', 'operator', 'backup']);
  });

  it('lists every public route (DESIGN §4) with a summary and its tag', () => {
    for (const [path, methods, tag] of PUBLIC_ROUTES) {
      expect(doc.paths[path], path).toBeDefined();
      for (const m of methods) {
        const op = doc.paths[path]![m];
        expect(op, `${m} ${path}`).toBeDefined();
        expect(op!.summary, `${m} ${path} summary`).toMatch(/\w{3,}/);
        expect(op!.tags, `${m} ${path} tags`).toEqual([tag]);
      }
    }
    // Nothing undocumented slipped in, and nothing hidden leaked out.
    expect(Object.keys(doc.paths).sort()).toEqual(PUBLIC_ROUTES.map(([p]) => p).sort());
  });

  it('hides /metrics and the page\'s own routes', () => {
    expect(doc.paths['/metrics']).toBeUndefined();
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/docs'))).toEqual([]);
  });

  it('carries the path, query and body schemas of the routes', () => {
    const put = doc.paths['/v1/db/{db}/docs/{id}']!.put!;
    const params = Object.fromEntries(put.parameters!.map((p) => [`${p.in}.${p.name}`, p]));
    expect(params['path.db']!.required).toBe(true);
    expect(params['path.db']!.schema!.pattern).toBeTypeOf('string');
    expect(params['path.id']!.required).toBe(true);
    const body = put.requestBody!.content['application/json']!.schema as { required?: string[]; properties: Record<string, unknown> };
    expect(body.required).toEqual(['data']);
    expect(Object.keys(body.properties)).toEqual(expect.arrayContaining(['rev', 'data', 'tags', 'content']));

    const get = doc.paths['/v1/db/{db}/docs/{id}']!.get!;
    const read = get.parameters!.find((p) => p.in === 'query' && p.name === 'read');
    expect(read?.schema?.enum).toEqual(['primary', 'any', 'quorum']);

    const search = doc.paths['/v1/db/{db}/_search']!.get!;
    expect(search.parameters!.find((p) => p.in === 'query' && p.name === 'q')?.required).toBe(true);

    const failover = doc.paths['/v1/_cluster/shards/{id}/failover']!.post!;
    expect(failover.parameters!.find((p) => p.in === 'path' && p.name === 'id')?.required).toBe(true);
    const fBody = failover.requestBody!.content['application/json']!.schema as { properties: Record<string, unknown> };
    expect(Object.keys(fBody.properties)).toEqual(['to']);
    expect(failover.security).toEqual([{ clusterSecret: [] }]);
  });
});

describe('GET /docs', () => {
  it('serves the browsable page and the assets it loads', async () => {
    const page = await app.inject({ method: 'GET', url: '/docs' });
    // @fastify/swagger-ui answers /docs directly or redirects to /docs/ (version-dependent).
    const html = page.statusCode === 302 ? await app.inject({ method: 'GET', url: page.headers.location as string }) : page;
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toMatch(/text\/html/);
    expect(html.body).toMatch(/<div id="swagger-ui">/);
    // Every script, stylesheet and icon the page names is served.
    const assets = [...html.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => new URL(m[1]!, 'http://router/docs/').pathname);
    expect(assets.filter((a) => a.endsWith('.js'))).toHaveLength(3);
    expect(assets.filter((a) => a.endsWith('.css')).length).toBeGreaterThanOrEqual(1);
    for (const url of assets) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body.length, url).toBeGreaterThan(100);
    }
    // The initializer points the UI at the generated document, relative to /docs/.
    const init = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(init.statusCode).toBe(200);
    expect(init.body).toMatch(/url: resolveUrl\('\.\/json'\)/);
  });
});
