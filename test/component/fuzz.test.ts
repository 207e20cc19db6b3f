import { Ajv, type ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newToken, userLine } from '../../src/cli/commands/token.ts';
import { rng, type Rng } from '../../src/core/rng.ts';
import { startInProcessCluster, type InProcessCluster } from '../harness/in-process.ts';

// No 5xx from input, anywhere (issue 12): a seeded fuzz run over every
// operation of the router's OpenAPI document — malformed and truncated JSON,
// wrong types at every field, deep nesting, huge arrays, long and odd strings
// in ids, db names, query parameters and headers, `__proto__` keys, wrong
// media types and methods, tokens missing or wrong. Every answer must be a
// response the document lists for that operation (its status and its JSON
// schema), or one of the answers any request may get (404/405); afterwards
// every node and the router still answer.
//
// In-process (the real router and six real nodes of startInProcessCluster,
// driven through inject()), not a cluster test: thousands of requests finish
// in seconds on two cores, a crash is an exception the run sees at once, and
// it runs with the unit tier. Parser-level faults (bytes inject() cannot
// send) are test/component/strict-input.test.ts's raw-socket cases.
//
// TESSERA_TEST_SEED=n replays a run; TESSERA_FUZZ_COUNT / TESSERA_FUZZ_MS bound it.

const SEED = Number(process.env.TESSERA_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
const COUNT = Number(process.env.TESSERA_FUZZ_COUNT ?? 3000);
const BUDGET_MS = Number(process.env.TESSERA_FUZZ_MS ?? 45_000);
const ADMIN = newToken();
const READER = newToken();

type Schema = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Operation {
  method: string;
  path: string;
  params: Array<{ name: string; in: 'path' | 'query'; required?: boolean; schema: Schema }>;
  body?: Schema;
  responses: Record<string, ValidateFunction | null>;
}

let c: InProcessCluster;
let ops: Operation[];
const ajv = new Ajv({ strict: false, allErrors: false });

beforeAll(async () => {
  c = await startInProcessCluster({ shards: 2, extra: { auth: { users: [JSON.parse(userLine('fuzzer', 'admin', ADMIN, [])), JSON.parse(userLine('reader', 'read', READER, ['fuzz']))] } } });
  expect((await c.inject({ method: 'PUT', url: '/v1/db/fuzz', headers: { authorization: `Bearer ${ADMIN}` } })).statusCode).toBe(201);
  const doc = JSON.parse((await c.inject({ method: 'GET', url: '/docs/json' })).body) as { paths: Record<string, Record<string, Schema>> };
  ops = Object.entries(doc.paths).flatMap(([path, byMethod]) => Object.entries(byMethod).filter(([m]) => m !== 'head').map(([method, op]) => ({
    method: method.toUpperCase(),
    path,
    params: (op.parameters ?? []) as Operation['params'],
    ...(op.requestBody ? { body: op.requestBody.content['application/json'].schema as Schema } : {}),
    responses: Object.fromEntries(Object.entries(op.responses as Record<string, Schema>).map(([status, r]) => {
      const schema = r.content?.['application/json']?.schema;
      return [status, schema && schema.type !== 'null' ? ajv.compile(schema) : null];
    })),
  })));
  expect(ops.length).toBeGreaterThanOrEqual(18);
}, 60_000);
afterAll(async () => c?.close());

// ---- generators ----------------------------------------------------------

const ODD_STRINGS = [
  '', ' ', 'x'.repeat(300), 'y'.repeat(5000), '__proto__', 'constructor', 'prototype', '%00', '%2F', '%', '\u00e9t\u00e9', '🙂',
  '\u202e', 'a b', 'null', 'true', '-1', '1e400', '0x10', '[]', '{}', '"', "'", '<script>', '../x', 'a;b', 'a,b', '*', '\\',
];
const FIELD_VALUES = (r: Rng): unknown[] => [null, true, 0, -1, 1.5, 2 ** 53 - 1, '', 'str', [], {}, [1, 'a'], { a: 1 }, r.pick(ODD_STRINGS)];
const MARK = '\u0001mark\u0001';
const TEXT_VALUES = ['1e400', '-1e400', '18446744073709551616', '9007199254740993', '{"__proto__":{"polluted":1}}', '[[[[[[[[[[]]]]]]]]]]', '1' + '0'.repeat(400)];

const validRev = (r: Rng) => `${1 + r.int(5)}-${Array.from({ length: 40 }, () => '0123456789abcdef'[r.int(16)]).join('')}`;
const validId = (r: Rng) => r.pick(['doc1', 'doc2', 'a.b', 'x~y', `id${r.int(50)}`]);

/** A value that fits a (request) schema, mostly: the fuzz mutates it afterwards. */
function fromSchema(s: Schema | undefined, r: Rng, name = ''): unknown {
  if (!s) return r.pick(FIELD_VALUES(r));
  if (s.enum) return r.pick(s.enum as unknown[]);
  if (s.anyOf) return fromSchema(r.pick(s.anyOf as Schema[]), r, name);
  const type = Array.isArray(s.type) ? r.pick(s.type as string[]) : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, sub] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) {
        if ((s.required ?? []).includes(k) || r.chance(0.5)) out[k] = fromSchema(sub, r, k);
      }
      if (name === 'data' || name === 'equalsMap') out.field = r.pick(FIELD_VALUES(r));
      return out;
    }
    case 'array': return Array.from({ length: r.int(4) }, () => fromSchema(s.items as Schema, r, name));
    case 'integer': return r.int(Math.min(Number(s.maximum ?? 1000), 1000)) + Number(s.minimum ?? 0);
    case 'number': return r.next() * 100;
    case 'boolean': return r.chance(0.5);
    case 'string': {
      if (name === 'rev') return validRev(r);
      if (name === 'id' || name === 'startAfter') return validId(r);
      if (s.pattern === '^(0|[1-9][0-9]{0,14})$') return String(r.int(200));
      if (name === 'q') return r.pick(['hello', 'a OR b', '"x y"', 'tess*', 'a NOT b']);
      return r.pick(['hello', 'tag', 'x']);
    }
    default: return null;
  }
}

/** Paths to every value inside `v`. */
function paths(v: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

function setAt(root: unknown, path: Array<string | number>, value: unknown): unknown {
  if (path.length === 0) return value;
  let node = root as Record<string | number, unknown>;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string | number, unknown>;
  node[path.at(-1)!] = value;
  return root;
}

interface Req { method: string; url: string; headers: Record<string, string>; payload?: string; kind: string }

function makeRequest(op: Operation, r: Rng): Req {
  const kinds: string[] = [];
  let url = op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    let v = name === 'db' ? r.pick(['fuzz', 'fuzz', 'nodb', 'a-b_c']) : name === 'id' ? (op.path.includes('_cluster') ? (r.chance(0.05) ? r.pick(['0', '1']) : r.pick(['9', '00', '2'])) : validId(r)) : 'x';
    if (r.chance(0.15)) {
      v = r.pick(ODD_STRINGS);
      kinds.push(`odd ${name}`);
    }
    // "." and ".." would be normalised away by inject()'s URL parsing (strict-input.test.ts sends them raw).
    if (v === '' || v === '.' || v === '..') v = 'dot';
    return encodeURIComponent(v);
  });
  const qs = new URLSearchParams();
  for (const p of op.params.filter((x) => x.in === 'query')) {
    if (p.required || r.chance(0.4)) qs.append(p.name, String(fromSchema(p.schema, r, p.name)));
    if (r.chance(0.05)) {
      qs.set(p.name, r.pick(ODD_STRINGS));
      kinds.push(`odd query ${p.name}`);
    }
    if (r.chance(0.02)) {
      qs.append(p.name, 'again');
      kinds.push(`repeated ${p.name}`);
    }
  }
  if (r.chance(0.05)) {
    qs.append(r.pick(['bogus', '__proto__', 'include_docs', 'x'.repeat(2000)]), r.pick(ODD_STRINGS));
    kinds.push('unknown query');
  }
  // A long poll without a timeout waits 30 s for a change: keep the run moving.
  if (qs.get('feed') === 'longpoll' && !/^\d{1,3}$/.test(qs.get('timeout') ?? 'x')) qs.set('timeout', String(r.int(100)));
  const q = qs.toString();
  if (q) url += `?${q}`;

  const headers: Record<string, string> = {};
  const auth = r.next();
  if (auth < 0.8) headers.authorization = `Bearer ${ADMIN}`;
  else if (auth < 0.85) headers.authorization = `Bearer ${READER}`;
  else if (auth < 0.9) headers.authorization = `Bearer ${newToken()}`;
  else if (auth < 0.95) headers.authorization = r.pick(['Basic abc', 'Bearer', 'bearer x', `Bearer ${'t'.repeat(4000)}`]);
  if (auth >= 0.8) kinds.push('auth');
  // The operator endpoints under /v1/_cluster/shards also take (verify and repair: only) the cluster secret.
  if ((op.path.startsWith('/v1/_cluster/shards') || op.path.startsWith('/v1/_backup')) && r.chance(0.5)) headers.authorization = `Bearer ${c.config.cluster.secret}`;
  if (r.chance(0.1)) {
    headers['if-match'] = r.pick([validRev(r), 'garbage', '2-', '*', '"x"', 'W/"1-a"']);
    kinds.push('if-match');
  }
  if (r.chance(0.1)) headers['if-none-match'] = r.pick(['*', `"${validRev(r)}"`, 'garbage', '']);
  if (r.chance(0.05)) headers[r.pick(['x-tessera-term', 'x-tessera-commit', 'prefer', 'idempotency-key', 'x-odd'])] = r.pick(['9999999999999999', '-1', 'return=minimal', 'k'.repeat(3000), 'é']);

  let method = op.method;
  if (r.chance(0.04)) {
    method = r.pick(['PATCH', 'PUT', 'DELETE', 'POST', 'GET', 'OPTIONS']);
    kinds.push(`method ${method}`);
  }

  let payload: string | undefined;
  if (op.body || r.chance(0.05)) {
    let body = fromSchema(op.body, r, 'body');
    const roll = r.int(14);
    const targets = paths(body);
    const target = r.pick(targets);
    // Text spliced in where MARK stands: what JSON.stringify cannot (or should not, at this depth) make.
    let markText = r.pick(TEXT_VALUES);
    switch (roll) {
      case 0: body = setAt(body, target, r.pick(FIELD_VALUES(r))); kinds.push(`wrong type at ${target.join('.')}`); break;
      case 1: if (body && typeof body === 'object' && !Array.isArray(body)) { (body as Record<string, unknown>)[r.pick(['extra', 'selector', 'constructor', 'x'.repeat(500)])] = 1; kinds.push('unknown field'); } break;
      case 2: {
        const n = r.pick([65, 70, 81, 200, 5000, 100_000]);
        markText = `${'['.repeat(n)}0${']'.repeat(n)}`;
        body = setAt(body, target, MARK);
        kinds.push(`deep ${n}`);
        break;
      }
      case 3: body = setAt(body, target, Array.from({ length: r.pick([1001, 10_001, 30_000]) }, (_, i) => i)); kinds.push('huge array'); break;
      case 4: body = setAt(body, target, r.pick(['z'.repeat(r.pick([1000, 100_000])), ...ODD_STRINGS])); kinds.push('odd string'); break;
      case 5: body = setAt(body, target, MARK); kinds.push('odd number or __proto__'); break;
      default: break;
    }
    payload = JSON.stringify(body) ?? 'null';
    if (payload.includes(JSON.stringify(MARK))) payload = payload.replace(JSON.stringify(MARK), () => markText);
    if (roll === 6) {
      payload = payload.slice(0, r.int(payload.length));
      kinds.push('truncated');
    } else if (roll === 7) {
      payload = r.pick(['{', '{"data":', 'nul', '\u0000\u0001', '{"a":1,}', "{'a':1}", '[', '""', '1', '{"data":{}}{"x":1}']);
      kinds.push('malformed');
    } else if (roll === 8) {
      payload = `{${r.pick(['"docs"', '"data"', '"equalsMap"'])}:${'{"a":'.repeat(3000)}0${'}'.repeat(3000)}}`;
      kinds.push('deep text');
    }
    headers['content-type'] = 'application/json';
    if (r.chance(0.06)) {
      headers['content-type'] = r.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json-patch+json', 'multipart/form-data; boundary=x', '']);
      kinds.push(`content-type ${headers['content-type']}`);
    }
  }
  return { method, url, headers, ...(payload !== undefined ? { payload } : {}), kind: kinds.join(', ') || 'plain' };
}

// ---- the checker ---------------------------------------------------------

/**
 * Why an answer is not one the document promises, or null: a 5xx other than
 * a documented 503, a status the operation does not list (404 and 405 are
 * answers any request may get), a body that is not JSON, or one that does
 * not match the status's schema.
 */
function problemWith(op: Operation, method: string, statusCode: number, text: string): string | null {
  const status = String(statusCode);
  if (statusCode >= 500 && !(statusCode === 503 && op.responses['503'])) return `a ${status} (no input may cause one)`;
  if (statusCode === 304 || method === 'HEAD') return op.responses[status] !== undefined || method === 'HEAD' ? null : `undocumented ${status}`;
  // Documented without a JSON schema (the backup's NDJSON stream): the status is the promise.
  if (op.responses[status] === null) return null;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'the body is not JSON';
  }
  const code = (body as { error?: unknown } | null)?.error;
  if (!op.responses[status] && ((status === '404' && code === 'not_found') || (status === '405' && code === 'method_not_allowed'))) return null;
  if (method !== op.method && status === '405') return null;
  const validate = op.responses[status];
  if (validate === undefined) return `status ${status} is not documented for ${op.method} ${op.path}`;
  if (validate && !validate(body)) return `the answer does not match the documented schema: ${ajv.errorsText(validate.errors)}`;
  return null;
}

describe('the fuzz checker', () => {
  // A checker is trusted once it flags planted faults: answers a broken router could give.
  it('flags a 500, an undocumented status, a non-JSON body and a body off its schema; passes documented answers', () => {
    const put = ops.find((o) => o.method === 'PUT' && o.path === '/v1/db/{db}/docs/{id}')!;
    const doc = JSON.stringify({ id: 'x', rev: `1-${'a'.repeat(40)}`, data: {}, seq: 2, shard: 0, acks: 2 });
    expect(problemWith(put, 'PUT', 201, doc)).toBeNull();
    expect(problemWith(put, 'PUT', 400, JSON.stringify({ ok: false, error: 'bad_request', message: 'm' }))).toBeNull();
    expect(problemWith(put, 'PUT', 404, JSON.stringify({ ok: false, error: 'not_found', message: 'm' }))).toBeNull();
    expect(problemWith(put, 'PUT', 500, JSON.stringify({ ok: false, error: 'internal', message: 'm' }))).toMatch(/a 500/);
    expect(problemWith(put, 'PUT', 418, '{}')).toMatch(/not documented/);
    expect(problemWith(put, 'PUT', 400, '<html>')).toMatch(/not JSON/);
    expect(problemWith(put, 'PUT', 400, JSON.stringify({ statusCode: 400, error: 'Bad Request', message: 'fastify shape' }))).toMatch(/schema/);
    expect(problemWith(put, 'PUT', 400, JSON.stringify({ ok: false, error: 'conflict', message: 'wrong code for 400' }))).toMatch(/schema/);
    expect(problemWith(put, 'PUT', 201, JSON.stringify({ id: 'x', data: {} }))).toMatch(/rev/);
    const health = ops.find((o) => o.path === '/healthz')!;
    expect(problemWith(health, 'GET', 503, JSON.stringify({ ok: false, error: 'unavailable', message: 'm' }))).toMatch(/a 503/);
  });
});

// ---- the run -------------------------------------------------------------

describe(`fuzz over the OpenAPI document (seed ${SEED})`, () => {
  it('every answer is a documented response; every process stays up', async () => {
    console.log(`fuzz: seed ${SEED} (replay: TESSERA_TEST_SEED=${SEED}), up to ${COUNT} requests or ${BUDGET_MS} ms`);
    const r = rng(SEED);
    const started = Date.now();
    const statuses = new Map<string, number>();
    const slow = new Map<string, number>();
    let sent = 0;
    for (; sent < COUNT && Date.now() - started < BUDGET_MS; sent++) {
      const picked = r.pick(ops);
      const req = makeRequest(picked, r);
      // Another method on the same path is that operation's request (or a 405).
      const op = req.method === picked.method ? picked : ops.find((o) => o.path === picked.path && o.method === req.method) ?? picked;
      const t0 = Date.now();
      const res = await c.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, ...(req.payload !== undefined ? { payload: req.payload } : {}) });
      slow.set(`${op.method} ${op.path}`, (slow.get(`${op.method} ${op.path}`) ?? 0) + Date.now() - t0);
      const status = String(res.statusCode);
      const key = `${op.method} ${op.path} ${status}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      const where = `seed ${SEED}, request ${sent}: ${req.method} ${req.url.slice(0, 200)} [${req.kind}] → ${status} ${res.body.slice(0, 300)}`;
      const problem = problemWith(op, req.method, res.statusCode, res.body);
      if (problem) expect.fail(`${where}: ${problem}`);
    }
    const took = Date.now() - started;
    console.log(`fuzz: time per operation (ms): ${[...slow].sort((a, b) => b[1] - a[1]).map(([k, ms]) => `${k} ${ms}`).join('; ')}`);
    console.log(`fuzz: ${sent} requests in ${took} ms; answers: ${[...statuses].sort().map(([k, n]) => `${k} ×${n}`).join('; ')}`);
    expect(sent).toBeGreaterThanOrEqual(Math.min(COUNT, 500));
    // Every status class was reached: the run exercised refusals and successes alike.
    const seen = new Set([...statuses.keys()].map((k) => k.split(' ').at(-1)));
    for (const s of ['200', '201', '400', '401', '403', '404', '415']) expect(seen, `status ${s} never seen`).toContain(s);
    // Every process is still up and serving.
    expect((await c.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    for (const n of c.shards) expect((await n.app.inject({ method: 'GET', url: '/healthz' })).statusCode, n.url).toBe(200);
    // The run may have deleted the db: make it again, then write and read through every layer.
    const admin = { authorization: `Bearer ${ADMIN}` };
    expect([200, 201]).toContain((await c.inject({ method: 'PUT', url: '/v1/db/fuzz', headers: admin })).statusCode);
    const write = await c.inject({ method: 'PUT', url: '/v1/db/fuzz/docs/after', payload: { data: { ok: true } }, headers: { authorization: `Bearer ${ADMIN}` } });
    expect([200, 201]).toContain(write.statusCode);
    expect((await c.inject({ method: 'GET', url: '/v1/db/fuzz/docs/after', headers: admin })).statusCode).toBe(200);
  }, 120_000);
});
