import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { Doc, LogEntry, NodeState } from '../../src/core/protocol.ts';
import { startCluster, TESSERA_BIN, waitFor, writeTestConfig, type TestCluster } from '../harness/index.ts';

// `tessera verify` (anti-entropy) against a real 1×3 cluster: a control run
// on healthy copies says "all equal" (exit 0); then one replica's SQLite file
// is edited behind Tessera's back (node stopped, a document's body changed
// under its rev, another document's rows deleted, node started) and verify
// must name both documents, the node and each copy's rev (exit 1), the
// background pass must report them as a metric and a log line, and
// `--repair` must make every copy equal again through `repair` log entries.

interface Run { code: number; stdout: string; stderr: string }

function tessera(args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (k.startsWith('TESSERA_')) delete env[k];
  return new Promise((resolve) => {
    execFile(process.execPath, [TESSERA_BIN, ...args], { env, timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

let cluster: TestCluster;
const DB = 'v';
const ids = Array.from({ length: 40 }, (_, i) => `doc-${i}`);

async function put(id: string, body: unknown): Promise<Doc> {
  const res = await fetch(`${cluster.router.url}/v1/db/${DB}/docs/${id}`, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000),
  });
  expect(res.status, id).toBeLessThan(300);
  return (await res.json()) as Doc;
}

async function nodeDoc(node: string, id: string): Promise<Doc | number> {
  const r = await cluster.client(node).raw({ path: `/v1/db/${DB}/docs/${id}`, timeoutMs: 5000 });
  return r.status === 200 ? (r.body as Doc) : r.status;
}

async function converged(): Promise<void> {
  const nodes = cluster.shardNodes(0);
  await waitFor(async () => {
    const s = await Promise.all(nodes.map((n) => cluster.nodeState(n)));
    return s.every((x: NodeState) => x.lastSeq === s[0]!.lastSeq && x.ready);
  }, { timeoutMs: 20_000, message: 'every copy at the same lastSeq' });
}

beforeAll(async () => {
  const tc = await writeTestConfig({ shards: 1, nodesPerShard: 3, overrides: { replication: { antiEntropyIntervalMs: 500 } } });
  cluster = await startCluster(tc);
  expect((await fetch(`${cluster.router.url}/v1/db/${DB}`, { method: 'PUT' })).status).toBe(201);
  for (const id of ids) await put(id, { data: { id, v: 1 }, content: `text of ${id}` });
  // Some history: updates (so revisions exist below the head) and a tombstone.
  const d1 = await put('doc-1', { rev: (await nodeDoc('s0a', 'doc-1') as Doc).rev, data: { v: 2 } });
  await put('doc-1', { rev: d1.rev, data: { v: 3 } });
  const gone = await fetch(`${cluster.router.url}/v1/db/${DB}/docs/doc-2?rev=${(await nodeDoc('s0a', 'doc-2') as Doc).rev}`, { method: 'DELETE' });
  expect(gone.status).toBe(200);
  await converged();
});

afterAll(async () => {
  await cluster?.dispose();
});

describe('tessera verify', () => {
  it('says every copy is equal on a healthy shard (the control)', async () => {
    const r = await tessera(['verify', '--config', cluster.tc.path]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^shard 0 at seq \d+ \(term 1, primary s0a\): 3 of 3 copies compared, all equal \(40 documents, 1024 ranges, \d+ ms\)\n$/);
    expect(r.code).toBe(0);
  });

  it('finds documents changed behind Tessera\'s back in one replica, names them, and --repair makes every copy equal', async () => {
    const before = await nodeDoc('s0a', 'doc-7') as Doc;
    // Node stopped, file edited with SQLite, node started: what a bad disk or a stray script does.
    await cluster.nodes.s0c!.stop();
    const file = new Database(join(cluster.tc.dataDir, 's0c', 'tessera.db'));
    try {
      const row = file.prepare('SELECT body FROM docs WHERE db = ? AND id = ?').get(DB, 'doc-7') as { body: string };
      const tampered = { ...(JSON.parse(row.body) as Doc), data: { id: 'doc-7', v: 666 } };
      expect(file.prepare('UPDATE docs SET body = ? WHERE db = ? AND id = ?').run(JSON.stringify(tampered), DB, 'doc-7').changes).toBe(1);
      expect(file.prepare('DELETE FROM docs WHERE db = ? AND id = ?').run(DB, 'doc-9').changes).toBe(1);
      file.prepare('DELETE FROM revisions WHERE db = ? AND id = ?').run(DB, 'doc-9');
    } finally {
      file.close();
    }
    await cluster.nodes.s0c!.start();
    // Replication alone does not notice: nothing in the log changed.
    await converged();
    expect(((await nodeDoc('s0c', 'doc-7')) as Doc).data).toEqual({ id: 'doc-7', v: 666 });
    expect(await nodeDoc('s0c', 'doc-9')).toBe(404);

    const found = await tessera(['verify', '--config', cluster.tc.path]);
    expect(found.code, found.stdout + found.stderr).toBe(1);
    expect(found.stdout).toMatch(/^shard 0 at seq \d+ \(term 1, primary s0a\): 3 of 3 copies compared: 2 documents differ/);
    const line = (id: string, node: string) => new RegExp(`^\\s+(${DB}\\s+${id}\\s+)?${node}\\s+(\\S+)\\s+(.*)$`, 'm');
    expect(found.stdout).toMatch(line('doc-7', 's0a'));
    expect(found.stdout.match(line('doc-7', 's0a'))![3]).toBe('primary');
    const doc7 = found.stdout.split('\n').filter((l) => / s0c /.test(l));
    expect(doc7[0]).toMatch(new RegExp(`s0c\\s+${before.rev.slice(0, 10)}\\s+DIFFERS: same rev, other content`));
    expect(doc7[1]).toMatch(/s0c\s+-\s+missing/);

    const json = JSON.parse((await tessera(['verify', '--config', cluster.tc.path, '--shard', '0', '--json'])).stdout) as {
      consistent: boolean; divergent: Array<{ db: string; id: string; copies: Array<{ node: string; rev: string | null; same: boolean }> }>;
    };
    expect(json.consistent).toBe(false);
    expect(json.divergent.map((d) => d.id)).toEqual(['doc-7', 'doc-9']);
    for (const d of json.divergent) {
      expect(d.copies.filter((c) => !c.same).map((c) => c.node)).toEqual(['s0c']);
      expect(d.copies.find((c) => c.node === 's0b')!.rev).toBe(d.copies.find((c) => c.node === 's0a')!.rev);
    }
    expect(json.divergent[1]!.copies.find((c) => c.node === 's0c')!.rev).toBeNull();

    // The background pass reports it too: a gauge and one WARN line.
    await waitFor(async () => {
      const text = await (await fetch(`${cluster.router.url}/metrics`)).text();
      return /^tessera_antientropy_divergent_documents\{shard="0"\} 2$/m.test(text);
    }, { timeoutMs: 20_000, message: 'the anti-entropy gauge to show 2 divergent documents' });
    await waitFor(() => cluster.router.tail(200).includes('anti-entropy: copies differ'), { timeoutMs: 10_000, message: 'the anti-entropy log line' });
    expect(cluster.router.tail(200)).toMatch(/"first":\["v\/doc-7: s0c=1-[0-9a-f]{40}","v\/doc-9: s0c=none"\]/);

    const repaired = await tessera(['verify', '--config', cluster.tc.path, '--repair']);
    if (process.env.TESSERA_TEST_VERBOSE) console.log(`${found.stdout}\n${repaired.stdout}`);
    expect(repaired.code, repaired.stdout + repaired.stderr).toBe(0);
    expect(repaired.stdout).toMatch(/^shard 0: repaired v\/doc-7 with log entry seq (\d+) \(durable on [23] copies\)$/m);
    expect(repaired.stdout).toMatch(/^shard 0: repaired v\/doc-9 with log entry seq \d+ \(durable on [23] copies\)$/m);
    expect(repaired.stdout).toMatch(/^after repair: shard 0 at seq \d+ \(term 1, primary s0a\): 3 of 3 copies compared, all equal/m);

    // Every copy holds the primary's document again, and the repair is in every copy's log.
    await converged();
    for (const node of cluster.shardNodes(0)) {
      expect(await nodeDoc(node, 'doc-7')).toEqual(before);
      expect(await nodeDoc(node, 'doc-9')).toEqual(await nodeDoc('s0a', 'doc-9'));
      const wal = (await cluster.client(node).json<{ entries: LogEntry[] }>({ path: '/v1/_replication/wal?since=0&limit=10000', timeoutMs: 5000 })).body.entries;
      expect(wal.filter((e) => e.op === 'repair').map((e) => e.id)).toEqual(['doc-7', 'doc-9']);
    }
    await waitFor(async () => /^tessera_antientropy_divergent_documents\{shard="0"\} 0$/m.test(await (await fetch(`${cluster.router.url}/metrics`)).text()),
      { timeoutMs: 20_000, message: 'the anti-entropy gauge back to 0' });
    // Writes go on normally afterwards, and a repaired document updates like any other.
    await put('doc-7', { rev: before.rev, data: { v: 3 } });
    await converged();
    const again = await tessera(['verify', '--config', cluster.tc.path]);
    expect(again.code, again.stdout).toBe(0);
    expect(cluster.unexpectedExits()).toEqual([]);
  });

  it('needs the cluster secret, and exits 2 on usage errors', async () => {
    const res = await fetch(`${cluster.router.url}/v1/_cluster/shards/0/verify`);
    expect(res.status).toBe(401);
    const wrong = await tessera(['verify', '--router', cluster.router.url, '--secret', 'nope']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/401 unauthorized/);
    expect((await tessera(['verify', '--config', cluster.tc.path, '--shard', 'x'])).code).toBe(2);
    const unknown = await tessera(['verify', '--config', cluster.tc.path, '--shard', '7']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/404 not_found/);
  });
});
