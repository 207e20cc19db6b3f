import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BadRequestError, ConflictError, NotFoundError, TesseraClient, type ChangesPage, type RetryInfo,
} from '../../src/client/index.ts';
import { revGeneration } from '../../src/core/doc/rev.ts';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../src/launch/package-root.ts';
import { freePorts, startCluster, waitFor, writeTestConfig, type TestCluster } from '../harness/index.ts';
import { readmeBlock } from '../harness/readme.ts';

// The client library against a real 2 × 3 cluster: the API end to end with
// typed answers and errors, iterators over real pages and a real change feed,
// failover from a dead router URL, and a SIGKILLed primary in the middle of a
// loop of updates that must end with every update applied exactly once.

const R = { healthCheckIntervalMs: 200, failoverTimeoutMs: 1000, writeTimeoutMs: 1500 };
let cluster: TestCluster;
let deadUrl: string;

interface Note { title: string; stars: number }

beforeAll(async () => {
  const tc = await writeTestConfig({ shards: 2, nodesPerShard: 3, overrides: { replication: R } });
  cluster = await startCluster(tc);
  // A port nobody listens on: connection refused, so the request provably never arrived.
  deadUrl = `http://127.0.0.1:${(await freePorts(1))[0]}`;
});

afterAll(async () => {
  await cluster?.dispose();
});

function client(retries: RetryInfo[] = []): TesseraClient {
  return new TesseraClient({ urls: [deadUrl, cluster.router.url], onRetry: (i) => retries.push(i) });
}

describe('client library against a real cluster', () => {
  it('documents, revisions and typed errors end to end, through a dead router URL first', async () => {
    const retries: RetryInfo[] = [];
    const c = client(retries);
    try {
      expect(await c.createDb('typed')).toMatchObject({ ok: true, db: 'typed', created: true });
      expect((await c.createDb('typed')).created).toBe(false);
      expect(retries.map((r) => r.url)).toEqual([deadUrl]); // refused once, then the client stayed on the live router
      const db = c.db<Note>('typed');
      const a = await db.put('hello', { data: { title: 'Hello', stars: 5 }, tags: ['greeting'], content: 'hello tessera world' });
      expect(a).toMatchObject({ id: 'hello', rev: '1-5c3675b05466821140f8b862ad728c538c732a51', acks: 2 });
      expect(await db.get('hello')).toMatchObject({ data: { title: 'Hello', stars: 5 } });
      const b = await db.put('hello', { data: { title: 'Hello again', stars: 4 }, tags: ['greeting'], content: 'hello again tessera' }, { rev: a.rev });
      expect(b.rev).toBe('2-e75586ae4d198767190b8461b1774283b25addb3');
      await expect(db.put('hello', { data: { title: 'stale', stars: 0 } }, { rev: a.rev })).rejects.toBeInstanceOf(ConflictError);
      await expect(db.get('nope')).rejects.toBeInstanceOf(NotFoundError);
      expect(await db.getOrNull('nope')).toBeNull();
      await expect(db.put('bad id with spaces', { data: { title: '', stars: 0 } })).rejects.toBeInstanceOf(BadRequestError);
      expect(await db.get('hello', { rev: a.rev })).toMatchObject({ rev: a.rev, data: { title: 'Hello' } });
      expect(await db.getIfChanged('hello', b.rev)).toEqual({ changed: false });
      expect(await db.getIfChanged('hello', a.rev)).toMatchObject({ changed: true, doc: { rev: b.rev } });

      const inserted = await db.insert({ data: { title: 'Second', stars: 3 }, tags: ['draft'] });
      expect(inserted.id).toMatch(/^[A-Za-z0-9]{20}$/);
      const bumped = await db.update(inserted.id, (cur) => ({ data: { ...cur!.data, stars: cur!.data.stars + 1 }, tags: cur!.tags ?? [] }));
      expect(bumped).toMatchObject({ data: { stars: 4 } });
      expect((await db.findFields({ numericField: 'stars', min: 4 })).items.map((d) => d.id).sort()).toEqual([inserted.id, 'hello'].sort());
      expect((await db.findTags({ anyOf: ['draft'] })).items.map((d) => d.id)).toEqual([inserted.id]);
      expect((await db.search('tessera')).items.map((d) => d.id)).toEqual(['hello']);
      const del = await db.delete('hello', b.rev);
      expect(del).toMatchObject({ ok: true, id: 'hello' });
      expect(revGeneration(del.rev)).toBe(3);
      await expect(db.get('hello')).rejects.toBeInstanceOf(NotFoundError);
      expect(await c.listDbs()).toEqual(['typed']);
    } finally {
      await c.close();
    }
  });

  it('allDocs iterates every document in id order across shards; follow streams committed changes and resumes from a cursor', async () => {
    const c = client();
    try {
      await c.createDb('feed');
      const db = c.db<{ i: number }>('feed');
      const ctrl = new AbortController();
      const seenIds = new Set<string>();
      const pages: ChangesPage[] = [];
      const following = (async () => {
        for await (const page of db.follow({ longpollMs: 2000, signal: ctrl.signal })) {
          pages.push(page);
          for (const ch of page.results) seenIds.add(ch.id);
        }
      })();
      const ids = Array.from({ length: 120 }, (_, i) => `d${String(i).padStart(3, '0')}`);
      const results = await db.bulk(ids.map((id, i) => ({ id, data: { i } })));
      expect(results.every((r) => 'ok' in r)).toBe(true);
      await waitFor(() => ids.every((id) => seenIds.has(id)), { timeoutMs: 15_000, message: 'the feed shows every written document' });
      ctrl.abort();
      await following;

      const listed: string[] = [];
      for await (const d of db.allDocs({ pageSize: 17 })) listed.push(d.id);
      expect(listed).toEqual(ids);

      // Resume from the cursor of the last page: only changes after it come.
      const cursor = pages.at(-1)!.last;
      await db.put('late', { data: { i: -1 } });
      const resumed = new AbortController();
      const after: string[] = [];
      for await (const page of db.follow({ since: cursor, longpollMs: 2000, signal: resumed.signal })) {
        after.push(...page.results.map((r) => r.id));
        if (after.includes('late')) resumed.abort();
      }
      expect(after).toEqual(['late']);
    } finally {
      await c.close();
    }
  });

  it('a primary SIGKILLed in the middle of a loop of updates: every update is applied exactly once', async () => {
    const retries: RetryInfo[] = [];
    const c = new TesseraClient({ urls: [cluster.router.url, deadUrl], onRetry: (i) => retries.push(i) });
    const UPDATES = 60;
    try {
      await c.createDb('loop');
      const db = c.db<{ applied: number[] }>('loop');
      const first = await db.put('counter', { data: { applied: [] } });
      const shard = first.shard;
      const before = (await cluster.clusterInfo()).shards[shard]!;
      const victim = before.primaryId!;
      const deadline = Date.now() + 90_000;
      let killed: Promise<unknown> | null = null;
      for (let i = 0; i < UPDATES && Date.now() < deadline; i++) {
        // The kill races update 20 (its read or its write is in flight), not the gap between two updates.
        if (i === 20) killed = cluster.nodes[victim]!.kill('SIGKILL');
        // Each round appends its own number once; a re-applied update would append it twice.
        await db.update('counter', (cur) => ({ data: { applied: [...cur!.data.applied, i] } }));
      }
      await killed;
      const final = await db.get('counter');
      expect(final.data.applied).toEqual(Array.from({ length: UPDATES }, (_, i) => i));
      // One revision per update after the create: nothing applied twice, nothing lost.
      expect(revGeneration(final.rev)).toBe(UPDATES + 1);
      const after = (await cluster.clusterInfo()).shards[shard]!;
      expect(after.term).toBeGreaterThan(before.term!);
      expect(after.primaryId).not.toBe(victim);
      // The kill was felt: the client retried through the election.
      expect(retries.length).toBeGreaterThan(0);
      console.log(`retries through the failover: ${retries.length} (${[...new Set(retries.map((r) => r.reason))].join('; ')})`);
      expect(cluster.unexpectedExits()).toEqual([]);
    } finally {
      await c.close();
    }
  });

  it('the README example runs as written, from an outside project', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-readme-'));
    try {
      await mkdir(join(dir, 'node_modules'));
      await symlink(PACKAGE_ROOT, join(dir, 'node_modules', 'tessera'), 'dir');
      await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'readme-example', type: 'module', private: true }));
      await writeFile(join(dir, 'example.ts'), readmeBlock('## Client library', 'ts'));
      const { stdout } = await promisify(execFile)(join(PACKAGE_ROOT, 'node_modules', '.bin', 'tsx'), ['example.ts'], {
        cwd: dir, timeout: 60_000, env: { ...process.env, TESSERA_ROUTER: cluster.router.url },
      });
      console.log(stdout);
      const lines = stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^1-ef80a8fc5537eb50205ab19c55451b17e2bdb392 \d+ [01] 2$/);
      expect(lines).toContain('hello 6');
      expect(lines).toContain('true not_found');
      expect(lines).toContain('null 2-60e479f0c2955f4f78fbbbf90e18ac274d7b7298');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
