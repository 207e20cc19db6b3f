import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessCluster, type InProcessCluster } from '../harness/in-process.ts';

// Strict input on the client API (issue 12, DESIGN §4 "Input is strict"),
// through the real router and real nodes: unknown fields and parameters,
// media types, revs, methods, sizes, ETags, nesting, numbers, odd ids, bulk
// documents one by one, and errors of the HTTP parser itself.

let c: InProcessCluster;
beforeAll(async () => {
  c = await startInProcessCluster({ shards: 2 });
  expect((await c.inject({ method: 'PUT', url: '/v1/db/d' })).statusCode).toBe(201);
}, 60_000);
afterAll(async () => c?.close());

const body = (res: { body: string }) => JSON.parse(res.body) as Record<string, unknown>;
const put = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  c.inject({ method: 'PUT', url, payload: payload as object, headers });
const nested = (levels: number): unknown => {
  let v: unknown = {};
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
};

describe('unknown fields and parameters are 400 naming them', () => {
  it('body fields', async () => {
    const res = await put('/v1/db/d/docs/x', { data: {}, extra: true, more: 1 });
    expect(res.statusCode).toBe(400);
    expect(body(res)).toMatchObject({ error: 'bad_request', unknown: ['extra', 'more'], message: 'body: unknown fields extra, more' });
  });

  it('query parameters, on routes with and without parameters of their own', async () => {
    const all = await c.inject({ method: 'GET', url: '/v1/db/d/_all_docs?include_docs=true&descending=true&limit=2' });
    expect([all.statusCode, body(all).unknown]).toEqual([400, ['include_docs', 'descending']]);
    expect(body(all).message).toMatch(/unknown parameters include_docs, descending/);
    const list = await c.inject({ method: 'GET', url: '/v1/db?bogus=1' });
    expect([list.statusCode, body(list).unknown]).toEqual([400, ['bogus']]);
    const doc = await put('/v1/db/d/docs/x?batch=ok', { data: {} });
    expect(doc.statusCode).toBe(400);
  });

  it('selector on _find/fields says Mango selectors are not supported', async () => {
    const res = await c.inject({ method: 'POST', url: '/v1/db/d/_find/fields', payload: { selector: { stars: { $gt: 3 } } } });
    expect(res.statusCode).toBe(400);
    expect(body(res).message).toMatch(/^body\.selector: Mango selectors are not supported/);
  });
});

describe('media types, revs, methods, sizes', () => {
  it('a body that is not application/json is 415 naming the expected type; charset is fine', async () => {
    const none = await c.inject({ method: 'PUT', url: '/v1/db/d/docs/x', payload: '{"data":{}}', headers: { 'content-type': '' } });
    expect([none.statusCode, body(none).error]).toEqual([415, 'unsupported_media_type']);
    const text = await c.inject({ method: 'PUT', url: '/v1/db/d/docs/x', payload: '{"data":{}}', headers: { 'content-type': 'text/plain' } });
    expect([text.statusCode, body(text).error, body(text).expected]).toEqual([415, 'unsupported_media_type', 'application/json']);
    expect(body(text).message).toMatch(/application\/json/);
    const ok = await c.inject({ method: 'PUT', url: '/v1/db/d/docs/cs', payload: '{"data":{}}', headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(ok.statusCode).toBe(201);
  });

  it('a malformed rev (body, query, If-Match) is 400, not 409', async () => {
    for (const rev of ['garbage', '2-', '1-abc', `0-${'a'.repeat(40)}`]) {
      expect((await put('/v1/db/d/docs/x', { data: {}, rev })).statusCode, rev).toBe(400);
      expect((await c.inject({ method: 'DELETE', url: `/v1/db/d/docs/x?rev=${rev}` })).statusCode, rev).toBe(400);
      const im = await put('/v1/db/d/docs/x', { data: {} }, { 'if-match': rev });
      expect([im.statusCode, body(im).path], rev).toEqual([400, 'headers.if-match']);
    }
  });

  it('a known path with a wrong method is 405 with Allow; an unknown path stays 404', async () => {
    const patch = await c.inject({ method: 'PATCH', url: '/v1/db/d/docs/x', payload: {} });
    expect([patch.statusCode, body(patch).error]).toEqual([405, 'method_not_allowed']);
    expect(patch.headers.allow).toBe('DELETE, GET, HEAD, PUT');
    const post = await c.inject({ method: 'POST', url: '/v1/db' });
    expect([post.statusCode, post.headers.allow]).toEqual([405, 'GET, HEAD']);
    expect((await c.inject({ method: 'GET', url: '/v1/nothing/here' })).statusCode).toBe(404);
  });

  it('one 413 message, whichever limit was hit', async () => {
    const max = c.config.limits.maxDocBytes;
    const overBody = await put('/v1/db/d/docs/big', { data: { s: 'x'.repeat(max + 70_000) } });
    const overDoc = await put('/v1/db/d/docs/big', { data: { s: 'x'.repeat(max + 10) } });
    expect([overBody.statusCode, overDoc.statusCode]).toEqual([413, 413]);
    expect(body(overBody).message).toBe(body(overDoc).message);
    expect(body(overBody)).toMatchObject({ error: 'payload_too_large', limit: max });
  });
});

describe('_search takes the documented query language, never FTS5 syntax', () => {
  it('q=*, well-known, c++ and friends: 200 or a 400 that names the problem, never a 5xx or SQL text', async () => {
    await put('/v1/db/d/docs/s1', { data: {}, content: 'the well-known c++ tessera' });
    const search = async (q: string) => {
      const res = await c.inject({ method: 'GET', url: `/v1/db/d/_search?q=${encodeURIComponent(q)}` });
      expect(res.body, q).not.toMatch(/sqlite|fts5|syntax error|no such column/i);
      return { status: res.statusCode, body: body(res) };
    };
    expect(await search('*')).toMatchObject({ status: 400, body: { path: 'querystring.q', message: expect.stringMatching(/prefix needs/) } });
    expect(await search('well-known')).toMatchObject({ status: 200, body: { total: 1 } });
    expect(await search('c++')).toMatchObject({ status: 200, body: { total: 1 } });
    expect(await search('tess* AND "well known" NOT rust')).toMatchObject({ status: 200, body: { total: 1 } });
    for (const q of ['"', 'NOT', 'content:x', 'a OR', '(', ')', 'NEAR(a b, 2)', '^x', '\u0000']) expect((await search(q)).status, q).toBeLessThan(500);
  });
});

describe('ETag and If-None-Match', () => {
  it('GET of a document sends ETag "<rev>" and answers 304 to If-None-Match with it', async () => {
    const created = body(await put('/v1/db/d/docs/etag', { data: { v: 1 } }));
    const res = await c.inject({ method: 'GET', url: '/v1/db/d/docs/etag' });
    expect(res.headers.etag).toBe(`"${created.rev}"`);
    const hit = await c.inject({ method: 'GET', url: '/v1/db/d/docs/etag', headers: { 'if-none-match': `"${created.rev}"` } });
    expect([hit.statusCode, hit.body]).toEqual([304, '']);
    const weakList = await c.inject({ method: 'GET', url: '/v1/db/d/docs/etag', headers: { 'if-none-match': `"1-x", W/"${created.rev}"` } });
    expect(weakList.statusCode).toBe(304);
    const miss = await c.inject({ method: 'GET', url: '/v1/db/d/docs/etag', headers: { 'if-none-match': `"1-${'b'.repeat(40)}"` } });
    expect(miss.statusCode).toBe(200);
  });
});

describe('limits that keep the store exact', () => {
  it('data nests up to 64 levels; 65 is 400; 10,000 and 400,000 levels are 400, never 500', async () => {
    expect((await put('/v1/db/d/docs/deep', { data: nested(64) })).statusCode).toBe(201);
    const over = await put('/v1/db/d/docs/deep', { data: nested(65) });
    expect([over.statusCode, body(over).message]).toEqual([400, expect.stringMatching(/nested deeper than 64 levels/)]);
    for (const n of [10_000, 400_000]) {
      const text = `{"data":${'['.repeat(n)}${']'.repeat(n)}}`;
      const res = await c.inject({ method: 'PUT', url: '/v1/db/d/docs/deep', payload: text, headers: { 'content-type': 'application/json' } });
      expect(res.statusCode, String(n)).toBe(400);
    }
  });

  it('numbers no double carries exactly are 400; fractions and safe integers are kept', async () => {
    for (const n of ['1e400', '-1e400', '9007199254740993', '18446744073709551616', '1e21']) {
      const res = await c.inject({ method: 'PUT', url: '/v1/db/d/docs/num', payload: `{"data":{"n":${n}}}`, headers: { 'content-type': 'application/json' } });
      expect([res.statusCode, body(res).path], n).toEqual([400, 'body.data.n']);
    }
    const ok = await c.inject({ method: 'PUT', url: '/v1/db/d/docs/num', payload: '{"data":{"a":0.1,"b":9007199254740991,"c":-1.5e-300}}', headers: { 'content-type': 'application/json' } });
    expect(ok.statusCode).toBe(201);
    expect(body(await c.inject({ method: 'GET', url: '/v1/db/d/docs/num' })).data).toEqual({ a: 0.1, b: 9007199254740991, c: -1.5e-300 });
  });

  it('a __proto__ key is 400', async () => {
    const res = await c.inject({ method: 'PUT', url: '/v1/db/d/docs/p', payload: '{"data":{"x":{"__proto__":{"polluted":true}}}}', headers: { 'content-type': 'application/json' } });
    expect([res.statusCode, body(res).path]).toEqual([400, 'body.data.x']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('ids "." and ".." are 400', async () => {
    // Sent as raw paths (a WHATWG URL, as inject() and fetch use, would drop the segment).
    const rawPut = (path: string) => new Promise<number>((resolve, reject) => {
      const u = new URL(c.config.router.url);
      const r = request({ host: u.hostname, port: u.port, method: 'PUT', path, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      r.on('error', reject);
      r.end('{"data":{}}');
    });
    for (const id of ['%2E', '%2E%2E', '.', '..']) expect(await rawPut(`/v1/db/d/docs/${id}`), id).toBe(400);
    for (const id of ['.', '..']) expect((await c.inject({ method: 'POST', url: '/v1/db/d/docs', payload: { id, data: {} } })).statusCode, id).toBe(400);
    expect((await put('/v1/db/d/docs/...', { data: {} })).statusCode).toBe(201);
  });

  it('one bad document in _bulk_docs fails alone with its own 400; the others are written', async () => {
    const docs = [
      { id: 'b1', data: { ok: 1 } },
      { id: 'b2', data: nested(70) },
      { id: 'b3', data: {}, extra: 1 },
      { id: '..', data: {} },
      { id: 'b5', rev: 'garbage', data: {} },
      { id: 'b6', data: { ok: 2 } },
    ];
    const res = await c.inject({ method: 'POST', url: '/v1/db/d/_bulk_docs', payload: { docs } });
    expect(res.statusCode).toBe(200);
    const results = JSON.parse(res.body) as Array<Record<string, unknown>>;
    expect(results.map((r) => r.ok ?? r.error)).toEqual([true, 'bad_request', 'bad_request', 'bad_request', 'bad_request', true]);
    expect(results[1]!.reason).toMatch(/docs\[1\]\.data.*nested deeper/);
    expect(results[2]!.reason).toMatch(/unknown field extra/);
    const numbers = await c.inject({ method: 'POST', url: '/v1/db/d/_bulk_docs', payload: '{"docs":[{"id":"n1","data":{"n":1e400}},{"id":"n2","data":{}}]}', headers: { 'content-type': 'application/json' } });
    expect((JSON.parse(numbers.body) as Array<Record<string, unknown>>).map((r) => r.ok ?? r.error)).toEqual(['bad_request', true]);
    expect((await c.inject({ method: 'GET', url: '/v1/db/d/docs/b6' })).statusCode).toBe(200);
  });

  it('_bulk_docs on a missing db is 404, even with no document or only bad ones', async () => {
    for (const docs of [[], [{ id: 'x', data: {}, bad: 1 }], [{ id: 'x', data: {} }]]) {
      const res = await c.inject({ method: 'POST', url: '/v1/db/nope/_bulk_docs', payload: { docs } });
      expect([res.statusCode, body(res).error], JSON.stringify(docs)).toEqual([404, 'not_found']);
    }
  });
});

describe('errors of the HTTP parser get the registry\'s shape', () => {
  const raw = (text: string, url = c.config.router.url) => new Promise<string>((resolve, reject) => {
    const port = Number(new URL(url).port);
    const s = connect(port, '127.0.0.1', () => s.end(text));
    let out = '';
    s.on('data', (d) => { out += d.toString(); });
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
  const parse = (text: string) => {
    const [head, payload] = text.split('\r\n\r\n');
    return { status: Number(head!.split(' ')[1]), body: JSON.parse(payload!) as Record<string, unknown> };
  };

  it('a NUL byte in the request line, CL with TE, and oversized headers', async () => {
    const nul = parse(await raw('GET /v1/db\u0000x HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(nul).toMatchObject({ status: 400, body: { ok: false, error: 'bad_request' } });
    const clte = parse(await raw('POST /v1/db/d/docs HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'));
    expect(clte).toMatchObject({ status: 400, body: { ok: false, error: 'bad_request' } });
    const big = parse(await raw(`GET /v1/db HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(big).toMatchObject({ status: 431, body: { ok: false, error: 'headers_too_large' } });
    // A node answers its parser errors the same way.
    const node = c.config.shards[0]!.nodes[0]!.url;
    expect(parse(await raw('GET /v1/db\u0000x HTTP/1.1\r\nHost: x\r\n\r\n', node))).toMatchObject({ status: 400, body: { ok: false, error: 'bad_request' } });
    expect(parse(await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, node))).toMatchObject({ status: 431, body: { error: 'headers_too_large' } });
    // The router still answers.
    expect((await c.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});
