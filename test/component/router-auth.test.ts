import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newToken, userLine } from '../../src/cli/commands/token.ts';
import { authenticate, decideAccess, sha256Hex } from '../../src/core/http/access.ts';
import { startInProcessCluster, type InProcessCluster } from '../harness/in-process.ts';

// Client authentication and roles (issue 12, DESIGN §3 `auth`), through the
// real router and nodes: every route class (read, write, admin, cluster,
// open) against no token, a wrong token and each role, databases a user is
// limited to, and the cluster secret on the cluster endpoints.

const tokens = { reader: newToken(), writer: newToken(), admin: newToken(), notesReader: newToken(), notesAdmin: newToken() };
const users = [
  JSON.parse(userLine('reader', 'read', tokens.reader, [])),
  JSON.parse(userLine('writer', 'readwrite', tokens.writer, [])),
  JSON.parse(userLine('admin', 'admin', tokens.admin, [])),
  JSON.parse(userLine('notes-reader', 'read', tokens.notesReader, ['notes'])),
  JSON.parse(userLine('notes-admin', 'admin', tokens.notesAdmin, ['notes'])),
];

let c: InProcessCluster;
beforeAll(async () => {
  c = await startInProcessCluster({ shards: 1, extra: { auth: { users } } });
  for (const db of ['notes', 'other']) {
    expect((await c.inject({ method: 'PUT', url: `/v1/db/${db}`, headers: { authorization: `Bearer ${tokens.admin}` } })).statusCode).toBe(201);
  }
}, 60_000);
afterAll(async () => c?.close());

type Who = 'none' | 'wrong' | keyof typeof tokens;
const header = (who: Who): Record<string, string> => (who === 'none' ? {} : { authorization: `Bearer ${who === 'wrong' ? newToken() : tokens[who]}` });
let n = 0;

/** One request of each route class; fresh ids so an allowed write is a plain 201. */
const ROUTES = {
  read: () => [
    { method: 'GET', url: '/v1/db' }, { method: 'GET', url: '/v1/db/notes' }, { method: 'GET', url: '/v1/db/notes/docs/nope' },
    { method: 'GET', url: '/v1/db/notes/_all_docs' }, { method: 'POST', url: '/v1/db/notes/_find/fields', payload: {} },
    { method: 'POST', url: '/v1/db/notes/_find/tags', payload: {} }, { method: 'GET', url: '/v1/db/notes/_search?q=x' },
    { method: 'GET', url: '/v1/db/notes/_changes' },
  ],
  write: () => [
    { method: 'PUT', url: `/v1/db/notes/docs/w${n++}`, payload: { data: {} } }, { method: 'POST', url: '/v1/db/notes/docs', payload: { data: {} } },
    { method: 'DELETE', url: `/v1/db/notes/docs/w${n++}?rev=1-${'a'.repeat(40)}` }, { method: 'POST', url: '/v1/db/notes/_bulk_docs', payload: { docs: [{ data: {} }] } },
  ],
  admin: () => [{ method: 'PUT', url: `/v1/db/made${n++}` }, { method: 'DELETE', url: `/v1/db/gone${n++}` }],
  // Shard 9 does not exist: an allowed caller gets the route's own 404.
  cluster: () => [
    { method: 'POST', url: '/v1/_cluster/shards/9/failover', payload: {} },
    { method: 'GET', url: '/v1/_cluster/shards/9/verify' }, { method: 'POST', url: '/v1/_cluster/shards/9/repair', payload: {} },
  ],
  open: () => [
    { method: 'GET', url: '/healthz' }, { method: 'GET', url: '/readyz' }, { method: 'GET', url: '/v1/_cluster' }, { method: 'GET', url: '/docs/json' },
    { method: 'GET', url: '/ui' }, { method: 'GET', url: '/ui/snapshot' },
  ],
} as const;

const EXPECT: Record<keyof typeof ROUTES, Record<Who, 401 | 403 | 'ok'>> = {
  read: { none: 401, wrong: 401, reader: 'ok', writer: 'ok', admin: 'ok', notesReader: 'ok', notesAdmin: 'ok' },
  write: { none: 401, wrong: 401, reader: 403, writer: 'ok', admin: 'ok', notesReader: 403, notesAdmin: 'ok' },
  admin: { none: 401, wrong: 401, reader: 403, writer: 403, admin: 'ok', notesReader: 403, notesAdmin: 403 },
  cluster: { none: 401, wrong: 401, reader: 403, writer: 403, admin: 'ok', notesReader: 403, notesAdmin: 403 },
  open: { none: 'ok', wrong: 'ok', reader: 'ok', writer: 'ok', admin: 'ok', notesReader: 'ok', notesAdmin: 'ok' },
};

describe('role × route class', () => {
  for (const cls of Object.keys(ROUTES) as Array<keyof typeof ROUTES>) {
    it(`${cls} routes: ${JSON.stringify(EXPECT[cls])}`, async () => {
      for (const who of Object.keys(EXPECT[cls]) as Who[]) {
        for (const r of ROUTES[cls]()) {
          const res = await c.inject({ ...r, headers: header(who) } as Parameters<InProcessCluster['inject']>[0]);
          const want = EXPECT[cls][who];
          const what = `${who} ${r.method} ${r.url} → ${res.statusCode} ${res.body.slice(0, 120)}`;
          if (want === 'ok') {
            expect([401, 403], what).not.toContain(res.statusCode);
            expect(res.statusCode, what).toBeLessThan(500);
          } else {
            expect(res.statusCode, what).toBe(want);
            expect(JSON.parse(res.body).error, what).toBe(want === 401 ? 'unauthorized' : 'forbidden');
            if (want === 401) expect(res.headers['www-authenticate'], what).toBe('Bearer realm="tessera"');
          }
        }
      }
    });
  }
});

describe('databases a user is limited to', () => {
  it('a db-limited user is refused other dbs and sees only its own in GET /v1/db', async () => {
    const other = await c.inject({ method: 'GET', url: '/v1/db/other/_all_docs', headers: header('notesReader') });
    expect([other.statusCode, JSON.parse(other.body).message]).toEqual([403, 'notes-reader may not use database other']);
    const list = await c.inject({ method: 'GET', url: '/v1/db', headers: header('notesReader') });
    expect(JSON.parse(list.body)).toEqual({ dbs: ['notes'] });
    expect(JSON.parse((await c.inject({ method: 'GET', url: '/v1/db', headers: header('reader') })).body).dbs).toEqual(expect.arrayContaining(['notes', 'other']));
    // A db-limited admin creates and deletes only its own databases.
    expect((await c.inject({ method: 'PUT', url: '/v1/db/other', headers: header('notesAdmin') })).statusCode).toBe(403);
    expect((await c.inject({ method: 'PUT', url: '/v1/db/notes', headers: header('notesAdmin') })).statusCode).toBe(200);
  });
});

describe('the cluster secret', () => {
  it('still opens the cluster endpoints, and nothing of the client API', async () => {
    const secret = { authorization: `Bearer ${c.config.cluster.secret}` };
    expect((await c.inject({ method: 'POST', url: '/v1/_cluster/shards/9/failover', payload: {}, headers: secret })).statusCode).toBe(404);
    expect((await c.inject({ method: 'GET', url: '/v1/db', headers: secret })).statusCode).toBe(401);
  });

  it('an unauthenticated caller learns nothing about the input rules (401 before validation)', async () => {
    const res = await c.inject({ method: 'PUT', url: '/v1/db/notes/docs/x?bogus=1', payload: { nope: true } });
    expect(res.statusCode).toBe(401);
  });
});

describe('authenticate and decideAccess', () => {
  it('matches by SHA-256 only; the token itself is in no user', () => {
    const t = newToken();
    expect(t).toMatch(/^tsr_[A-Za-z0-9_-]{43}$/);
    const u = [{ name: 'a', tokenSha256: sha256Hex(t), role: 'read' as const }];
    expect(JSON.stringify(u)).not.toContain(t);
    expect(authenticate(u, `Bearer ${t}`)).toEqual({ name: 'a', role: 'read' });
    expect(authenticate(u, `Bearer ${t}x`)).toBeNull();
    expect(authenticate(u, t)).toBeNull();
    expect(authenticate(u, undefined)).toBeNull();
  });

  it('roles rank read < readwrite < admin; cluster changes need an admin of every db', () => {
    const admin = { name: 'a', role: 'admin' as const };
    expect(decideAccess(admin, 'admin', undefined, { cluster: true }).kind).toBe('allow');
    expect(decideAccess({ ...admin, dbs: ['x'] }, 'admin', undefined, { cluster: true }).kind).toBe('forbidden');
    expect(decideAccess({ name: 'r', role: 'readwrite' }, 'admin', 'x').kind).toBe('forbidden');
    expect(decideAccess({ name: 'r', role: 'read' }, 'read', 'x').kind).toBe('allow');
    expect(decideAccess(null, 'read', 'x').kind).toBe('unauthorized');
  });
});
