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
    expect(failover.security).toEqual([{ clusterSecret: [] }, { clientToken: [] }]);
  });
});

type Response = { description?: string; content?: Record<string, { schema: { type?: string; required?: string[]; properties?: Record<string, { enum?: unknown[] }> } }> };
const responsesOf = (path: string, method: string) => (doc.paths[path]![method] as Operation & { responses: Record<string, Response> }).responses;

/** Error codes each status may carry (src/core/errors.ts), and what each route class must document. */
const CODES: Record<string, string[]> = {
  400: ['bad_request'], 401: ['unauthorized'], 403: ['forbidden'], 404: ['not_found'], 409: ['conflict'],
  413: ['payload_too_large'], 415: ['unsupported_media_type'],
};
const MUST: Record<string, string[]> = {
  'get /v1/db': ['200', '400', '401', '403', '503', '413', '415'],
  'put /v1/db/{db}': ['200', '201', '400', '401', '403', '503', '413', '415', '422'],
  'delete /v1/db/{db}': ['200', '400', '401', '403', '404', '503', '413', '415', '422'],
  'get /v1/db/{db}': ['200', '400', '401', '403', '404', '503', '413', '415'],
  'post /v1/db/{db}/docs': ['200', '201', '400', '401', '403', '404', '409', '413', '415', '503', '422'],
  'put /v1/db/{db}/docs/{id}': ['200', '201', '400', '401', '403', '404', '409', '413', '415', '503', '422'],
  'get /v1/db/{db}/docs/{id}': ['200', '304', '400', '401', '403', '404', '503', '413', '415'],
  'delete /v1/db/{db}/docs/{id}': ['200', '400', '401', '403', '404', '409', '503', '413', '415', '422'],
  'post /v1/db/{db}/_bulk_docs': ['200', '400', '401', '403', '404', '413', '415', '503', '422'],
  'get /v1/db/{db}/_all_docs': ['200', '400', '401', '403', '404', '503', '413', '415'],
  'post /v1/db/{db}/_find/fields': ['200', '400', '401', '403', '404', '415', '503', '413'],
  'post /v1/db/{db}/_find/tags': ['200', '400', '401', '403', '404', '415', '503', '413'],
  'get /v1/db/{db}/_search': ['200', '400', '401', '403', '404', '503', '413', '415'],
  'get /v1/db/{db}/_changes': ['200', '400', '401', '403', '404', '503', '413', '415'],
  'get /healthz': ['200', '400', '413', '415'],
  'get /readyz': ['200', '400', '503', '413', '415'],
  'get /v1/_cluster': ['200', '400', '413', '415'],
  'get /v1/_cluster/shards/{id}/verify': ['200', '400', '401', '403', '404', '413', '415', '503'],
  'post /v1/_cluster/shards/{id}/repair': ['200', '400', '401', '403', '404', '413', '415', '503'],
  'get /v1/_backup': ['200', '400', '401', '413', '415', '503'],
  'get /v1/_backup/shards/{id}/snapshot': ['200', '400', '401', '404', '413', '415', '503'],
  'put /v1/_backup/db/{db}': ['200', '201', '400', '401', '413', '415', '503'],
  'post /v1/_backup/db/{db}/docs': ['200', '400', '401', '404', '413', '415', '503'],
  'post /v1/_cluster/shards/{id}/failover': ['200', '400', '401', '403', '404', '409', '415', '503', '413'],
};

describe('responses (issue 13: every route and status)', () => {
  it('every operation documents each success status and each error status it can answer', () => {
    for (const [key, statuses] of Object.entries(MUST)) {
      const [method, path] = key.split(' ') as [string, string];
      expect(Object.keys(responsesOf(path, method)).sort(), key).toEqual([...statuses].sort());
    }
    // Every operation of the document is in the table above.
    const all = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).filter((m) => m !== 'head').map((m) => `${m} ${p}`));
    expect(all.sort()).toEqual(Object.keys(MUST).sort());
  });

  it('every error response is the one error shape with the status\'s codes', () => {
    for (const key of Object.keys(MUST)) {
      const [method, path] = key.split(' ') as [string, string];
      for (const [status, r] of Object.entries(responsesOf(path, method))) {
        if (Number(status) < 400 || (key === 'get /readyz' && status === '503')) continue;
        const schema = r.content!['application/json']!.schema;
        expect(schema.required, `${key} ${status}`).toEqual(['ok', 'error', 'message']);
        expect(schema.properties!.ok!.enum, `${key} ${status}`).toEqual([false]);
        if (CODES[status]) expect(schema.properties!.error!.enum, `${key} ${status}`).toEqual(CODES[status]);
        expect(r.description, `${key} ${status}`).toMatch(/\w{3,}/);
      }
    }
    expect(responsesOf('/v1/db/{db}/docs', 'post')['503']!.content!['application/json']!.schema.properties!.error!.enum).toEqual(['no_primary', 'quorum_not_met', 'unavailable']);
  });

  it('success responses are built from the document schema the routes validate with', () => {
    const put = responsesOf('/v1/db/{db}/docs/{id}', 'put')['201']!.content!['application/json']!.schema as { required: string[]; properties: Record<string, { pattern?: string }> };
    expect(put.required).toEqual(['id', 'rev', 'data']);
    const body = doc.paths['/v1/db/{db}/docs/{id}']!.put!.requestBody!.content['application/json']!.schema as { properties: Record<string, { pattern?: string }> };
    expect(put.properties.rev!.pattern).toBe(body.properties.rev!.pattern);
    expect(Object.keys(put.properties)).toEqual(expect.arrayContaining(['seq', 'shard', 'acks', 'tags', 'content']));
    const list = responsesOf('/v1/db/{db}/_all_docs', 'get')['200']!.content!['application/json']!.schema as { required: string[] };
    expect(list.required).toEqual(['total', 'items']);
    expect(doc.paths['/v1/db/{db}/docs/{id}']!.get!.security).toEqual([{ clientToken: [] }]);
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
