import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCerts } from '../../src/cli/certs.ts';
import { shardFor } from '../../src/core/hash.ts';
import { NodeClient, UnreachableError } from '../../src/core/http/client.ts';
import { newToken, userLine } from '../../src/cli/commands/token.ts';
import { freePorts, routerProcess, startCluster, TESSERA_BIN, waitFor, writeTestConfig, type TestCluster } from '../harness/index.ts';

// TLS everywhere (issue 12), with real processes: a 2×3 cluster whose
// config `tessera certs` made — the router serves clients over HTTPS and
// talks to every node over HTTPS verified against the cluster CA; writes
// reach every copy (replication over TLS); plain HTTP to a TLS port gets
// nothing; a client or a router with the wrong CA is refused. The client API
// is behind a token as well, as a deployment beyond localhost would run it.

const run = promisify(execFile);
const SHARDS = 2;
let cluster: TestCluster;
let trusted: Agent;
let token: string;

beforeAll(async () => {
  token = newToken();
  const tc = await writeTestConfig({
    shards: SHARDS, nodesPerShard: 3, tls: true,
    extra: { auth: { users: [JSON.parse(userLine('app', 'admin', token, []))] } },
  });
  expect(tc.routerUrl).toMatch(/^https:\/\//);
  // Debug level: request lines too, so the no-secret-in-logs check below reads everything a process says.
  cluster = await startCluster(tc, { logLevel: 'debug' });
  trusted = new Agent({ connect: { ca: tc.ca! } });
}, 120_000);

afterAll(async () => {
  await trusted?.close();
  await cluster?.dispose();
});

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${cluster.tc.routerUrl}${path}`, {
    method, dispatcher: trusted,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

describe('a whole cluster on HTTPS', () => {
  it('writes through the router land on every node of their shard, read back over HTTPS', async () => {
    expect((await call('PUT', '/v1/db/t')).status).toBe(201);
    const ids = Array.from({ length: 20 }, (_, i) => `tls${i}`);
    for (const id of ids) expect((await call('PUT', `/v1/db/t/docs/${id}`, { data: { id } })).status, id).toBe(201);
    for (const id of ids) {
      const nodes = cluster.shardNodes(shardFor(id, SHARDS));
      await waitFor(async () => {
        const copies = await Promise.all(nodes.map((n) => cluster.client(n).raw({ path: `/v1/db/t/docs/${id}`, timeoutMs: 2000 })));
        return copies.every((c) => c.status === 200 && (c.body as { data: { id: string } }).data.id === id);
      }, { timeoutMs: 10_000, message: `${id} on every copy` });
    }
    const all = await call('GET', '/v1/db/t/_all_docs?limit=100');
    expect(all.body.total).toBe(ids.length);
    expect(cluster.unexpectedExits()).toEqual([]);
  });

  it('plain HTTP to the router\'s or a node\'s TLS port gets no answer', async () => {
    for (const url of [cluster.tc.routerUrl, cluster.tc.nodeUrls.s0a!]) {
      const plain = url.replace(/^https:/, 'http:');
      const res = await fetch(`${plain}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, (err: Error) => err);
      expect(res, plain).toBeInstanceOf(Error);
    }
  });

  it('a client with another CA, or with only the system CAs, is refused', async () => {
    const other = makeCerts(JSON.parse(await readFile(join(cluster.tc.dir, 'config.json'), 'utf8')), cluster.tc.dir, join(cluster.tc.dir, 'other'));
    const wrong = new Agent({ connect: { ca: await readFile(other.ca) } });
    try {
      const err = await fetch(`${cluster.tc.routerUrl}/healthz`, { dispatcher: wrong }).then(() => null, (e: Error & { cause?: { code?: string } }) => e);
      expect(err?.cause?.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
      const sys = await fetch(`${cluster.tc.routerUrl}/healthz`).then(() => null, (e: Error) => e);
      expect(sys).toBeInstanceOf(Error);
      const node = new NodeClient(cluster.tc.nodeUrls.s0a!, cluster.tc.config.cluster.secret, { ca: await readFile(other.ca) });
      await expect(node.raw({ path: '/v1/_replication/state', timeoutMs: 3000 })).rejects.toBeInstanceOf(UnreachableError);
      await node.destroy();
    } finally {
      await wrong.close();
    }
  });

  it('a router that trusts another CA reaches no node: it never turns ready', async () => {
    const other = join(cluster.tc.dir, 'other', 'ca.pem');
    const [port] = await freePorts(1);
    const cfg = JSON.parse(await readFile(cluster.tc.path, 'utf8'));
    cfg.router.url = `https://127.0.0.1:${port}`;
    cfg.tls.ca = other;
    // Without an auth block, too: the router says once, at start, that its client API is open.
    delete cfg.auth;
    const path = join(cluster.tc.dir, 'tls', 'router2.json');
    await writeFile(path, JSON.stringify(cfg));
    const r2 = routerProcess(cluster.tc, {}, { name: 'router2', configPath: path });
    await r2.start();
    try {
      // r2 serves with the real CA's certificate; it trusts only the other CA for the nodes.
      const ready = await fetch(`https://127.0.0.1:${port}/readyz`, { dispatcher: trusted });
      expect(ready.status).toBe(503);
      const info = await (await fetch(`https://127.0.0.1:${port}/v1/_cluster`, { dispatcher: trusted })).json() as { shards: Array<{ primaryId: string | null }> };
      expect(info.shards.map((s) => s.primaryId)).toEqual([null, null]);
      const warnings = r2.tail(200).split('\n').filter((l) => l.includes('"level":40') && l.includes('the client API is open'));
      expect(warnings).toHaveLength(1);
    } finally {
      await r2.stop();
    }
  });

  it('no process wrote the token, its hash or the cluster secret to its log', () => {
    const hash = cluster.tc.config.auth!.users[0]!.tokenSha256;
    for (const p of [cluster.router, ...Object.values(cluster.nodes)]) {
      const out = p.tail(200);
      expect(out.length, p.name).toBeGreaterThan(0);
      for (const secret of [token, hash, cluster.tc.config.cluster.secret]) expect(out.includes(secret), `${p.name} logged a secret`).toBe(false);
    }
  });

  it('tessera status --config reads the cluster over HTTPS with the config\'s CA', async () => {
    const { stdout } = await run(process.execPath, [TESSERA_BIN, 'status', '--config', cluster.tc.path, '--json'], { timeout: 30_000 });
    const info = JSON.parse(stdout) as { shards: unknown[] };
    expect(info.shards).toHaveLength(SHARDS);
  });
});
