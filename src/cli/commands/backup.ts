import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import type { Doc, SnapshotLine } from '../../core/protocol.ts';
import { ContentDigest, FORMAT, FORMAT_VERSION, MANIFEST, mergeSummaries, shardFile, type Manifest, type ShardEntry } from '../backup/format.ts';
import { Progress } from '../backup/progress.ts';
import { shardSnapshot, StreamRefused } from '../backup/router-stream.ts';
import { loadConfigForCli } from '../load-config-or-exit.ts';
import type { Command } from '../main.ts';
import { EXIT } from '../main.ts';
import { describeAnswer, resolveTarget, routerRequest, type RouterTarget } from '../router-client.ts';

// `tessera backup --router URL --out DIR`: every shard's snapshot at a
// committed seq, streamed through the router into DIR/shard-<i>.ndjson, with
// a manifest of per-shard seq, counts and sha256, and per-db content digests.
// Writes go on meanwhile; each shard is consistent at its own seq.

export const command: Command = {
  summary: 'back up every shard at a committed seq into DIR (NDJSON + manifest with checksums), with progress on stderr',
  options: {
    router: { type: 'string' },
    out: { type: 'string' },
    secret: { type: 'string' },
    config: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  async run(values) {
    if (typeof values.out !== 'string') {
      process.stderr.write('tessera backup: --out DIR is required\n');
      return EXIT.usage;
    }
    let config = null;
    if (typeof values.config === 'string') {
      config = loadConfigForCli(values.config, 'backup');
      if (!config) return EXIT.usage;
    }
    const target = resolveTarget({ router: values.router as string | undefined, secret: values.secret as string | undefined }, config);
    if (!target.secret) {
      process.stderr.write('tessera backup: no cluster secret: pass --secret, set TESSERA_SECRET, or pass --config\n');
      return EXIT.usage;
    }
    const out = resolve(values.out);
    const existing = await readdir(out).catch(() => null);
    if (existing !== null && existing.length > 0) {
      process.stderr.write(`tessera backup: refused: ${out} is not empty (a backup never overwrites another)\n`);
      return EXIT.usage;
    }
    try {
      const manifest = await backup(target, out, values.quiet === true);
      const seconds = ((Date.now() - Date.parse(manifest.createdAt)) / 1000).toFixed(1);
      process.stdout.write(`backup of ${target.url}: ${manifest.shards.length} shards, ${manifest.docs} documents in ${Object.keys(manifest.dbs).length} dbs, `
        + `${manifest.shards.reduce((n, s) => n + s.bytes, 0)} bytes in ${seconds}s → ${out}\n`);
      for (const s of manifest.shards) process.stdout.write(`  shard ${s.shard}: seq ${s.seq} (term ${s.term}, ${s.primaryId}), ${s.docs} docs, sha256 ${s.sha256.slice(0, 16)}…\n`);
      return EXIT.ok;
    } catch (err) {
      process.stderr.write(`tessera backup: ${(err as Error).message}\n`);
      return EXIT.failed;
    }
  },
};

/** What the cluster says before anything is read: shard count, dbs, document count (401: wrong secret). */
export async function clusterFacts(target: RouterTarget, command: string): Promise<{ shards: number; dbs: string[]; docs: number }> {
  const a = await routerRequest(target, { path: '/v1/_backup', auth: true, timeoutMs: 30_000 });
  if (a.status === 401) throw new Error(`refused: the router at ${target.url} does not accept this cluster secret (401)`);
  if (a.status !== 200) throw new Error(`${command}: GET /v1/_backup answered ${describeAnswer(a)}`);
  return a.body as { shards: number; dbs: string[]; docs: number };
}

async function backup(target: RouterTarget, out: string, quiet: boolean): Promise<Manifest> {
  const createdAt = new Date().toISOString();
  const facts = await clusterFacts(target, 'backup');
  await mkdir(out, { recursive: true });
  const progress = new Progress('backup', facts.docs, { quiet });
  const shards: ShardEntry[] = [];
  const digests = [];
  try {
    for (let shard = 0; shard < facts.shards; shard++) {
      const r = await withRetries(() => backupShard(target, out, shard, progress), `shard ${shard}`);
      shards.push(r.entry);
      digests.push(r.digest);
    }
  } finally {
    progress.done();
  }
  const dbs = mergeSummaries(digests);
  for (const db of facts.dbs) dbs[db] ??= { docs: 0, deleted: 0, digest: '0'.repeat(64) };
  const manifest: Manifest = {
    format: FORMAT, version: FORMAT_VERSION, createdAt, router: target.url, shards, dbs,
    docs: shards.reduce((n, s) => n + s.docs, 0),
  };
  // The manifest last, and atomically: a folder without one is an unfinished backup.
  await writeFile(join(out, `${MANIFEST}.partial`), `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(join(out, `${MANIFEST}.partial`), join(out, MANIFEST));
  return manifest;
}

/** A shard whose snapshot could not be released (a failover, no quorum in time) is taken again, twice at most. */
async function withRetries<T>(fn: () => Promise<T>, what: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const final = attempt >= 3 || (err instanceof StreamRefused && err.status < 500);
      if (final) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

async function backupShard(target: RouterTarget, out: string, shard: number, progress: Progress) {
  const name = shardFile(shard);
  const partial = join(out, `${name}.partial`);
  const file = createWriteStream(partial);
  const hash = createHash('sha256');
  const digest = new ContentDigest();
  let bytes = 0;
  let docs = 0;
  let dbs = 0;
  type End = Extract<SnapshotLine, { type: 'end' }> & { primaryId: string };
  let end = null as End | null;
  const startDocs = progress.docs;
  const startBytes = progress.bytes;
  try {
    for await (const line of shardSnapshot(target, shard)) {
      const parsed = JSON.parse(line.text) as SnapshotLine | { type: 'error'; error: string; message: string };
      if (parsed.type === 'error') throw new Error(`the router could not release a committed snapshot: ${parsed.error}: ${parsed.message}`);
      if (end) throw new Error('lines after the end line');
      if (parsed.type === 'db') { dbs++; digest.addDb(parsed.name); }
      else if (parsed.type === 'doc') { docs++; digest.addDoc(parsed.db, parsed.doc as Doc); }
      else end = parsed as End;
      const text = `${line.text}\n`;
      hash.update(text);
      bytes += Buffer.byteLength(text);
      if (!file.write(text)) await once(file, 'drain');
      progress.add(line.bytes, parsed.type === 'doc' ? 1 : 0);
    }
    if (!end) throw new Error('the stream ended without its end line');
    if (end.docs !== docs || end.dbs !== dbs) throw new Error(`the end line counts ${end.docs} docs / ${end.dbs} dbs, the stream had ${docs} / ${dbs}`);
    file.end();
    await once(file, 'close');
    await rename(partial, join(out, name));
    return {
      entry: { shard, file: name, seq: end.seq, term: end.term, primaryId: end.primaryId, docs, dbs, bytes, sha256: hash.digest('hex') } satisfies ShardEntry,
      digest: digest.summary(),
    };
  } catch (err) {
    file.destroy();
    await rm(partial, { force: true });
    // This attempt's share of the bar goes back: a retry counts the shard again.
    progress.docs = startDocs;
    progress.bytes = startBytes;
    throw err;
  }
}
