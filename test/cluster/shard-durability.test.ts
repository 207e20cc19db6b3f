import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeClient, UnreachableError } from '../../src/core/http/client.ts';
import type { Doc, WalResponse } from '../../src/core/protocol.ts';
import type { ManagedProcess } from '../../src/launch/managed-process.ts';
import { TEST_SECRET, writeTestConfig, type TestConfig } from '../harness/test-config.ts';
import { shardProcess } from '../harness/shard-process.ts';

// A real `tessera shard` process, SIGKILLed in the middle of concurrent
// writes and restarted on the same data dir: every write it acknowledged must
// still be there (synchronous=FULL + group commit answer only after commit).

const WORKERS = 16;
const MAX_WRITES = 4000;
const LOAD_MS = 4000;

let tc: TestConfig;
let node: ManagedProcess;
let client: NodeClient;

beforeAll(async () => {
  tc = await writeTestConfig({ shards: 1, nodesPerShard: 1, overrides: { replication: { writeQuorum: 1, allowUnsafeQuorum: true } } });
  node = shardProcess({ configPath: tc.path, nodeId: tc.nodeIds[0]! });
  await node.start();
  client = new NodeClient(tc.nodeUrls[tc.nodeIds[0]!]!, TEST_SECRET, { connections: WORKERS });
});

afterAll(async () => {
  await client?.destroy();
  await node?.kill('SIGKILL');
  await tc?.cleanup();
});

describe('shard node durability', () => {
  it('keeps every acknowledged write across a SIGKILL mid-load', async () => {
    await client.json({ method: 'PUT', path: '/v1/db/dur', timeoutMs: 5000 });
    /** id → newest acknowledged rev. */
    const acked = new Map<string, string>();
    let attempted = 0;
    /** 2xx answers (an update answered counts again: acked is keyed by id). */
    let answered = 0;
    let stop = false;
    const started = Date.now();
    const worker = async (w: number) => {
      let prev: { id: string; rev: string } | null = null;
      for (let i = 0; !stop && attempted < MAX_WRITES && Date.now() - started < LOAD_MS; i++) {
        attempted++;
        // Alternate new documents with updates of the previous one.
        const update: boolean = prev !== null && i % 3 === 2;
        const id: string = update ? prev!.id : `w${w}-${i}`;
        try {
          const res: { body: Doc } = await client.json<Doc>({
            method: 'PUT',
            path: `/v1/db/dur/docs/${id}`,
            body: { data: { w, i }, ...(update ? { rev: prev!.rev } : {}) },
            timeoutMs: 5000,
          });
          answered++;
          acked.set(id, res.body.rev);
          prev = { id, rev: res.body.rev };
        } catch (err) {
          if (err instanceof UnreachableError) return; // killed: stop this worker
          throw err;
        }
      }
    };
    const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    // Kill while writes are in flight: once a fair number were acknowledged.
    const killAt = Date.now() + LOAD_MS / 2;
    while (acked.size < 300 && Date.now() < killAt) await new Promise((r) => setImmediate(r));
    const inFlightBefore = attempted;
    const exit = await node.kill('SIGKILL');
    stop = true;
    await load;
    expect(exit.signal).toBe('SIGKILL');
    expect(acked.size).toBeGreaterThan(0);
    expect(inFlightBefore).toBeLessThan(MAX_WRITES);
    // The kill landed mid-load: some writes were sent and never answered.
    expect(attempted).toBeGreaterThan(answered);

    await node.start();
    let lost = 0;
    for (const [id, rev] of acked) {
      const res = await client.raw({ path: `/v1/db/dur/docs/${id}`, timeoutMs: 5000 });
      const doc = res.body as Doc;
      // An unacknowledged update may have landed after the last ack: never older.
      if (res.status !== 200 || Number(doc.rev.split('-')[0]) < Number(rev.split('-')[0])) lost++;
    }
    expect(lost).toBe(0);
    // The log is contiguous and ends where the state says.
    const state = (await client.json<{ lastSeq: number }>({ path: '/v1/_replication/state', timeoutMs: 5000 })).body;
    const seqs: number[] = [];
    for (let since = 0; since < state.lastSeq;) {
      const page = (await client.json<WalResponse>({ path: `/v1/_replication/wal?since=${since}&limit=10000&meta=1`, timeoutMs: 5000 })).body;
      if (page.entries.length === 0) break;
      seqs.push(...page.entries.map((e) => e.seq));
      since = page.entries.at(-1)!.seq;
    }
    expect(seqs).toEqual(Array.from({ length: state.lastSeq }, (_, i) => i + 1));
  });

  it('a second process on a live data dir exits 1 before touching it: the first keeps its pid file and serves on', async () => {
    if (!node.running) await node.start();
    const pidFile = join(tc.dataDir, tc.nodeIds[0]!, 'tessera.pid');
    const before = readFileSync(pidFile, 'utf8');
    const second = shardProcess({ configPath: tc.path, nodeId: tc.nodeIds[0]! });
    await expect(second.start()).rejects.toThrow(/exited before it was ready \(code 1\)[\s\S]*is in use by another tessera process/);
    expect(readFileSync(pidFile, 'utf8')).toBe(before);
    expect((await client.json<{ nodeId: string }>({ path: '/v1/_replication/state', timeoutMs: 5000 })).body.nodeId).toBe(tc.nodeIds[0]);
    // The lock goes with its process, however it ends: after a SIGKILL a new process takes it.
    await node.kill('SIGKILL');
    await node.start();
    expect((await client.json<{ nodeId: string }>({ path: '/v1/_replication/state', timeoutMs: 5000 })).body.nodeId).toBe(tc.nodeIds[0]);
  });

  it('writes its pid file while running and removes it on SIGTERM (exit 0)', async () => {
    const pidFile = join(tc.dataDir, tc.nodeIds[0]!, 'tessera.pid');
    if (!node.running) await node.start();
    expect(Number(readFileSync(pidFile, 'utf8').trim())).toBe(node.pid);
    const exit = await node.stop(10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(existsSync(pidFile)).toBe(false);
  });
});
