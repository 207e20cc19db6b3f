import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraClient, type Doc } from '../../src/client/index.ts';
import { TESSERA_BIN } from '../../src/launch/managed-process.ts';
import { startCluster, waitFor, writeTestConfig } from '../harness/index.ts';
import { WriteLoad } from '../harness/write-load.ts';

// `tessera backup` and `tessera restore` with real processes: a backup of a
// 2 × 3 cluster taken under a write load, restored into a 1-shard and a
// 3-shard cluster (documents re-placed by the hash, revs kept, on every
// replica), and each refusal: a non-empty target, a truncated file, a
// changed file, a wrong secret, an out folder that is not empty.

const R = { healthCheckIntervalMs: 200, failoverTimeoutMs: 1000, writeTimeoutMs: 2000 };
let work: string;
let backupDir: string;
/** Every document of the source, by `db/id`, read after the backup (the load had stopped). */
const source = new Map<string, Doc>();
let ackedBeforeBackup: string[] = [];
let sentDuringLoad = new Set<string>();

interface Run { code: number; stdout: string; stderr: string }

function tessera(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TESSERA_BIN, ...args], { timeout: 120_000, env: { ...process.env, TESSERA_SECRET: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0, stdout, stderr });
    });
  });
}

async function everything(url: string): Promise<Map<string, Doc>> {
  const c = new TesseraClient({ urls: url });
  const out = new Map<string, Doc>();
  try {
    for (const db of await c.listDbs()) for await (const d of c.db(db).allDocs({ pageSize: 500, includeDeleted: true })) out.set(`${db}/${d.id}`, d);
  } finally {
    await c.close();
  }
  return out;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tessera-backup-'));
  backupDir = join(work, 'backup');
  const tc = await writeTestConfig({ shards: 2, nodesPerShard: 3, overrides: { replication: R } });
  const cluster = await startCluster(tc);
  try {
    const c = new TesseraClient({ urls: cluster.router.url });
    for (const db of ['alpha', 'beta', 'empty']) await c.createDb(db);
    const alpha = c.db<{ i: number; text?: string }>('alpha');
    const put = await alpha.bulk(Array.from({ length: 300 }, (_, i) => ({ id: `a${i}`, data: { i, text: 'ünïcødé ✓ '.repeat(i % 7) }, tags: [`t${i % 5}`], content: `doc ${i}` })));
    expect(put.every((r) => 'ok' in r)).toBe(true);
    for (let i = 0; i < 20; i++) await alpha.update(`a${i}`, (cur) => ({ data: { ...cur!.data, i: cur!.data.i + 1000 } }));
    for (let i = 20; i < 30; i++) await alpha.delete(`a${i}`, (await alpha.get(`a${i}`)).rev);
    await c.db('beta').bulk(Array.from({ length: 50 }, (_, i) => ({ id: `b${i}`, data: { i } })));
    await c.close();

    // The backup runs while 4 writers keep writing fresh documents.
    const load = new WriteLoad({ routerUrls: [cluster.router.url], db: 'beta', writers: 4, prefix: 'load', requestTimeoutMs: 10_000, maxDurationMs: 60_000, maxWrites: 5000 }).start();
    let run: Run;
    try {
      await waitFor(() => load.acked.length >= 50, { timeoutMs: 15_000, message: 'the load is writing' });
      ackedBeforeBackup = load.acked.map((a) => a.id);
      run = await tessera(['backup', '--router', cluster.router.url, '--secret', tc.config.cluster.secret, '--out', backupDir]);
      expect(load.acked.length).toBeGreaterThan(ackedBeforeBackup.length); // writes went on during the backup
    } finally {
      await load.stop();
    }
    console.log(run.stdout, run.stderr.split('\n').slice(-3).join('\n'));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/backup \[[#-]+\] +\d+%  [\d.]+ [KM]?B  \d+\/\d+ docs  \d+ docs\/s  [\d.]+ [KM]?B\/s  ETA \S+/);
    sentDuringLoad = new Set(load.acked.map((a) => a.id).concat([...load.notApplied]));
    for (const [k, v] of await everything(cluster.router.url)) source.set(k, v);
    // The refusals a live source allows: a wrong secret, an out folder that is not empty.
    const wrong = await tessera(['backup', '--router', cluster.router.url, '--secret', 'not-the-secret', '--out', join(work, 'never')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/does not accept this cluster secret \(401\)/);
    const again = await tessera(['backup', '--router', cluster.router.url, '--secret', tc.config.cluster.secret, '--out', backupDir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/is not empty/);
  } finally {
    await cluster.dispose();
  }
}, 240_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('tessera backup', () => {
  it('wrote a manifest with a committed seq, counts and a checksum per shard, and every acknowledged write from before it began', async () => {
    const manifest = JSON.parse(await readFile(join(backupDir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 'tessera-backup', version: 1 });
    expect(manifest.shards).toHaveLength(2);
    for (const s of manifest.shards) expect(s).toMatchObject({ file: `shard-${s.shard}.ndjson`, seq: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(Object.keys(manifest.dbs).sort()).toEqual(['alpha', 'beta', 'empty']);
    expect(manifest.dbs.alpha).toMatchObject({ docs: 300, deleted: 10 });
    expect(manifest.dbs.empty).toMatchObject({ docs: 0, deleted: 0 });
    const lines = (await Promise.all(manifest.shards.map((s: { file: string }) => readFile(join(backupDir, s.file), 'utf8')))).flatMap((t) => t.trim().split('\n').map((l: string) => JSON.parse(l)));
    const ids = new Set(lines.filter((l) => l.type === 'doc' && l.db === 'beta').map((l) => l.doc.id as string));
    for (const id of ackedBeforeBackup) expect(ids.has(id), id).toBe(true);
    // Nothing that was never written: every load document in the backup was sent by the load.
    for (const id of ids) if (id.startsWith('load')) expect(sentDuringLoad.has(id) || source.has(`beta/${id}`), id).toBe(true);
    expect(manifest.docs).toBe(lines.filter((l) => l.type === 'doc').length);
  });
});

describe('tessera restore', () => {
  for (const shards of [1, 3]) {
    it(`into an empty ${shards}-shard cluster: every document with its rev, on every replica, verified by checksums; then refused as not empty`, async () => {
      const tc = await writeTestConfig({ shards, nodesPerShard: 3, overrides: { replication: R } });
      const cluster = await startCluster(tc);
      try {
        if (shards === 1) {
          // Refused before anything is written: a changed file, a truncated file, a wrong secret.
          const tampered = join(work, 'tampered');
          await cp(backupDir, tampered, { recursive: true });
          const f = join(tampered, 'shard-0.ndjson');
          const text = await readFile(f, 'utf8');
          const changed = text.replace('"i":1001', '"i":9001');
          expect(changed).not.toBe(text); // the same size, one digit different
          await writeFile(f, changed);
          let r = await tessera(['restore', '--config', tc.path, '--from', tampered]);
          expect(r.code).toBe(1);
          expect(r.stderr).toMatch(/refused: shard-0\.ndjson: sha256 differs from the manifest/);
          const truncated = join(work, 'truncated');
          await cp(backupDir, truncated, { recursive: true });
          await truncate(join(truncated, 'shard-1.ndjson'), 1000);
          r = await tessera(['restore', '--config', tc.path, '--from', truncated]);
          expect(r.code).toBe(1);
          expect(r.stderr).toMatch(/refused: shard-1\.ndjson has 1000 bytes, the manifest says \d+ \(truncated or changed\)/);
          r = await tessera(['restore', '--config', tc.path, '--from', backupDir, '--secret', 'not-the-secret']);
          expect(r.code).toBe(1);
          expect(r.stderr).toMatch(/does not accept this cluster secret/);
          expect(await everything(cluster.router.url)).toEqual(new Map());
        }
        const run = await tessera(['restore', '--config', tc.path, '--from', backupDir]);
        console.log(run.stdout, run.stderr.split('\n').slice(-2).join('\n'));
        expect(run.code, run.stderr).toBe(0);
        expect(run.stdout).toMatch(new RegExp(`restored \\d+ documents in 3 dbs from 2 shards into ${shards} .*verified`));
        const restored = await everything(cluster.router.url);
        const backedUp = new Map([...source].filter(([k]) => restored.has(k) || !k.startsWith('beta/load')));
        // Everything but load writes acknowledged after the backup read its shard is there, identical, revs included.
        for (const [k, doc] of backedUp) expect(restored.get(k), k).toEqual(doc);
        for (const k of restored.keys()) expect(source.has(k), k).toBe(true);
        expect(restored.get('alpha/a3')!.rev).toBe(source.get('alpha/a3')!.rev);
        expect(restored.get('alpha/a25')).toMatchObject({ deleted: true });
        // Through the log: every node of the document's shard holds it.
        const probe = restored.get('alpha/a7')!;
        for (const node of cluster.tc.nodeIds) {
          const res = await cluster.client(node).raw({ path: `/v1/db/alpha/docs/a7`, timeoutMs: 2000 });
          if (res.status === 200) expect((res.body as Doc).rev).toBe(probe.rev);
        }
        // The write was acknowledged by a quorum; the third copy follows through the relay.
        await waitFor(async () => {
          const holders = await Promise.all(cluster.tc.nodeIds.map(async (n) => (await cluster.client(n).raw({ path: '/v1/db/alpha/docs/a7', timeoutMs: 2000 })).status));
          return holders.filter((st) => st === 200).length === 3;
        }, { timeoutMs: 10_000, message: 'all three copies of a7\'s shard hold it' });

        const second = await tessera(['restore', '--config', tc.path, '--from', backupDir]);
        expect(second.code).toBe(1);
        expect(second.stderr).toMatch(/refused: the target cluster is not empty \(dbs: alpha, beta, empty\)/);
        expect(cluster.unexpectedExits()).toEqual([]);
      } finally {
        await cluster.dispose();
      }
    }, 180_000);
  }
});

describe('the committed snapshot', () => {
  it('a shard whose primary holds an entry no quorum has is not backed up until the entry commits', async () => {
    const tc = await writeTestConfig({ shards: 1, nodesPerShard: 3, overrides: { replication: R } });
    const cluster = await startCluster(tc);
    const out = join(work, 'uncommitted');
    try {
      const c = new TesseraClient({ urls: cluster.router.url, idempotencyKeys: false, retry: { maxAttempts: 1 } });
      await c.createDb('u');
      await c.db('u').put('before', { data: {} });
      // Both replicas stopped: the primary appends the next write, no quorum can hold it.
      await cluster.nodes.s0b!.pause();
      await cluster.nodes.s0c!.pause();
      const err = await c.db('u').put('pending', { data: { n: 1 } }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'quorum_not_met', outcome: 'indeterminate' });
      expect((await cluster.nodeState('s0a')).lastSeq).toBeGreaterThan((await cluster.clusterInfo()).shards[0]!.commitSeq!);
      const refused = await tessera(['backup', '--router', cluster.router.url, '--secret', tc.config.cluster.secret, '--out', out, '--quiet']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/shard 0: the router could not release a committed snapshot: quorum_not_met: shard 0: seq \d+ not committed in time/);
      await rm(out, { recursive: true, force: true });
      await cluster.nodes.s0b!.resume();
      await cluster.nodes.s0c!.resume();
      const ok = await tessera(['backup', '--router', cluster.router.url, '--secret', tc.config.cluster.secret, '--out', out, '--quiet']);
      expect(ok.code, ok.stderr).toBe(0);
      const text = await readFile(join(out, 'shard-0.ndjson'), 'utf8');
      expect(text).toContain('"id":"pending"'); // committed once the replicas came back, so now it is in
      await c.close();
    } finally {
      await cluster.dispose();
    }
  }, 120_000);
});
