import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TESSERA_BIN } from '../../src/launch/managed-process.ts';

// The operator commands as a user runs them (`node bin/tessera.mjs ...`),
// against a fake router on 127.0.0.1 that records what it was sent.

interface Seen { method: string; url: string; auth: string | undefined; body: string }
let server: Server;
let routerUrl: string;
const seen: Seen[] = [];
let dir: string;

const CLUSTER = { shards: [{ id: 0, term: 3, primaryId: 's0b', commitSeq: 7, writesPaused: false, lastElection: null, nodes: [
  { id: 's0a', url: 'http://127.0.0.1:1', role: 'replica', term: 3, lastSeq: 7, commitSeq: 7, lag: 0, health: 'InSync', rollbackCount: 0 },
  { id: 's0b', url: 'http://127.0.0.1:2', role: 'primary', term: 3, lastSeq: 7, commitSeq: 7, lag: 0, health: 'InSync', rollbackCount: 0 },
] }] };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let b = '';
    req.on('data', (d) => (b += d));
    req.on('end', () => resolve(b));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-cli-'));
  server = createServer(async (req, res) => {
    const body = await readBody(req);
    seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
    res.setHeader('content-type', 'application/json');
    if (req.url === '/v1/_cluster') return res.end(JSON.stringify(CLUSTER));
    const m = /^\/v1\/_cluster\/shards\/(\d+)\/failover$/.exec(req.url ?? '');
    if (m && req.method === 'POST') {
      if (req.headers.authorization !== 'Bearer s3cret') {
        res.statusCode = 401;
        return res.end(JSON.stringify({ ok: false, error: 'unauthorized', message: 'Missing or wrong cluster secret' }));
      }
      if (m[1] !== '0') {
        res.statusCode = 404;
        return res.end(JSON.stringify({ ok: false, error: 'not_found', message: `No shard ${m[1]}` }));
      }
      const to = (JSON.parse(body || '{}') as { to?: string }).to ?? 's0a';
      return res.end(JSON.stringify({ shard: 0, primary: to, term: 4, extra: 'ignored' }));
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ ok: false, error: 'not_found', message: 'no route' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  routerUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

function tessera(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete base.TESSERA_SECRET;
    execFile(process.execPath, [TESSERA_BIN, ...args], { env: { ...base, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('tessera status', () => {
  it('prints the table', async () => {
    const r = await tessera(['status', '--router', routerUrl]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^SHARD\s+NODE\s+ROLE\s+TERM\s+LASTSEQ\s+LAG\s+HEALTH\s+COMMITSEQ\s+ROLLBACKS\n/);
    expect(r.stdout).toMatch(/0\s+s0b\s+primary\s+3\s+7\s+0\s+InSync\s+7\s+0\n/);
    // The shard table: commit point, writes open, no election seen yet.
    expect(r.stdout).toMatch(/\n\nSHARD\s+TERM\s+PRIMARY\s+COMMIT\s+WRITES\s+LAST ELECTION\s+WHY\s+OUTCOME\s+WINNER\s+TOOK\n\s+0\s+3\s+s0b\s+7\s+open\s+-/);
    expect(r.stdout).not.toContain('\u001b[');
  });
  it('--json prints the router answer', async () => {
    const r = await tessera(['status', '--router', routerUrl, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(CLUSTER);
  });
  it('exits 1 when the router is unreachable', async () => {
    const r = await tessera(['status', '--router', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the router at http:\/\/127\.0\.0\.1:1/);
  });
});

describe('tessera failover', () => {
  it('posts with the bearer secret and prints {shard, primary, term}', async () => {
    const r = await tessera(['failover', '--shard', '0', '--to', 's0b', '--router', routerUrl, '--secret', 's3cret']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ shard: 0, primary: 's0b', term: 4 });
    const req = seen.findLast((s) => s.method === 'POST')!;
    expect(req.url).toBe('/v1/_cluster/shards/0/failover');
    expect(JSON.parse(req.body)).toEqual({ to: 's0b' });
  });
  it('takes the secret from TESSERA_SECRET and sends no `to` without --to', async () => {
    const r = await tessera(['failover', '--shard', '0', '--router', routerUrl], { TESSERA_SECRET: 's3cret' });
    expect(r.code).toBe(0);
    expect(JSON.parse(seen.findLast((s) => s.method === 'POST')!.body)).toEqual({});
  });
  it('exits 1 with the error on a non-2xx answer', async () => {
    const bad = await tessera(['failover', '--shard', '9', '--router', routerUrl, '--secret', 's3cret']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('404 not_found: No shard 9');
    const wrong = await tessera(['failover', '--shard', '0', '--router', routerUrl, '--secret', 'nope']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('401 unauthorized');
  });
  it('exits 2 on usage errors', async () => {
    expect((await tessera(['failover', '--router', routerUrl, '--secret', 'x'])).code).toBe(2);
    expect((await tessera(['failover', '--shard', 'one', '--secret', 'x'])).code).toBe(2);
    const noSecret = await tessera(['failover', '--shard', '0', '--router', routerUrl]);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toMatch(/no cluster secret/);
  });
});

describe('tessera check-config', () => {
  it('accepts config/local.json and prints its topology without the secret', async () => {
    const r = await tessera(['check-config', new URL('../../config/local.json', import.meta.url).pathname]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/local\.json: ok/);
    expect(r.stdout.match(/^\s+\d\s+s\d[abc]\s+http:\/\/127\.0\.0\.1:71\d\d/gm)).toHaveLength(9);
    expect(r.stdout).not.toContain('change-me');
  });
  it('lists every problem by path and exits 2', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({
      cluster: { secret: 'x' },
      router: { url: 'not a url' },
      replication: { healthCheckIntervalMs: 'fast' },
      shards: [{ id: 0, nodes: [{ id: 'a', url: 'http://127.0.0.1:1' }, { id: 'b', url: 'nope' }] }],
    }));
    const r = await tessera(['check-config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('router.url:');
    expect(r.stderr).toContain('shards[0].nodes[1].url:');
    expect(r.stderr).toContain('replication.healthCheckIntervalMs:');
  });
  it('exits 2 for a missing file or no argument', async () => {
    expect((await tessera(['check-config', join(dir, 'missing.json')])).code).toBe(2);
    expect((await tessera(['check-config'])).code).toBe(2);
  });
});
