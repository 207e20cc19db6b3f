import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { computeRev, revGeneration } from '../../core/doc/rev.ts';
import type { Doc, SnapshotLine } from '../../core/protocol.ts';
import {
  compareSummaries, ContentDigest, MANIFEST, manifestProblems, mergeSummaries, type DbSummary, type Manifest,
} from '../backup/format.ts';
import { Progress } from '../backup/progress.ts';
import { shardSnapshot } from '../backup/router-stream.ts';
import { loadConfigForCli } from '../load-config-or-exit.ts';
import type { Command } from '../main.ts';
import { EXIT } from '../main.ts';
import { describeAnswer, resolveTarget, routerRequest, type RouterTarget } from '../router-client.ts';
import { clusterFacts } from './backup.ts';

// `tessera restore --config F --from DIR`: checks the whole backup first
// (manifest, every file's size and sha256, every line, every rev against its
// content), then that the target cluster takes the secret and is empty, then
// writes every db and document through the router — revs kept, placed by the
// target's own hash, through each shard's log so every replica gets them —
// and finally reads the target back at a committed seq and proves its
// content digest equal to the backup's.

const BATCH_DOCS = 500;
const BATCH_BYTES = 4 * 1024 * 1024;
const IN_FLIGHT = 4;
const RETRYABLE = new Set(['no_primary', 'quorum_not_met', 'unavailable']);

export const command: Command = {
  summary: 'restore a backup into a new, empty cluster (any shard count), then prove the data equal by checksums',
  options: {
    config: { type: 'string' },
    from: { type: 'string' },
    router: { type: 'string' },
    secret: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  async run(values) {
    if (typeof values.config !== 'string' || typeof values.from !== 'string') {
      process.stderr.write('tessera restore: --config F (the target cluster) and --from DIR (a backup) are required\n');
      return EXIT.usage;
    }
    const config = loadConfigForCli(values.config, 'restore');
    if (!config) return EXIT.usage;
    const target = resolveTarget({ router: values.router as string | undefined, secret: values.secret as string | undefined }, config);
    const dir = resolve(values.from);
    const quiet = values.quiet === true;
    try {
      const manifest = await checkBackup(dir);
      process.stderr.write(`backup ${dir}: ${manifest.shards.length} shards, ${manifest.docs} documents, checksums ok\n`);
      const facts = await clusterFacts(target, 'restore');
      if (facts.dbs.length > 0) throw new Error(`refused: the target cluster is not empty (dbs: ${facts.dbs.join(', ')}); restore needs a new, empty cluster`);
      await restore(target, dir, manifest, quiet);
      const diffs = compareSummaries(manifest.dbs, await clusterSummary(target, facts.shards));
      if (diffs.length > 0) throw new Error(`VERIFY FAILED: the cluster differs from the backup:\n  ${diffs.join('\n  ')}`);
      process.stdout.write(`restored ${manifest.docs} documents in ${Object.keys(manifest.dbs).length} dbs from ${manifest.shards.length} shards into ${facts.shards} at ${target.url}; `
        + 'verified: every db\'s document count and content digest equal the backup\'s\n');
      return EXIT.ok;
    } catch (err) {
      process.stderr.write(`tessera restore: ${(err as Error).message}\n`);
      return EXIT.failed;
    }
  },
};

/** The whole backup, read once before the cluster is touched: anything truncated or changed refuses the restore. */
export async function checkBackup(dir: string): Promise<Manifest> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch (err) {
    throw new Error(`refused: ${join(dir, MANIFEST)}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing (not a finished backup)' : (err as Error).message}`);
  }
  const problems = manifestProblems(manifest);
  if (problems.length > 0) throw new Error(`refused: ${MANIFEST}: ${problems.join('; ')}`);
  const parts: Array<Record<string, DbSummary>> = [];
  for (const s of manifest.shards) {
    const path = join(dir, s.file);
    const size = await stat(path).then((st) => st.size, () => null);
    if (size === null) throw new Error(`refused: ${s.file} is missing`);
    if (size !== s.bytes) throw new Error(`refused: ${s.file} has ${size} bytes, the manifest says ${s.bytes} (truncated or changed)`);
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    if (hash.digest('hex') !== s.sha256) throw new Error(`refused: ${s.file}: sha256 differs from the manifest (the file was changed)`);
    const digest = new ContentDigest();
    let docs = 0;
    let dbs = 0;
    let end: Extract<SnapshotLine, { type: 'end' }> | null = null;
    for await (const { line, n } of lines(path)) {
      const where = `${s.file} line ${n}`;
      if (end) throw new Error(`refused: ${where}: a line after the end line`);
      if (line.type === 'db') { dbs++; digest.addDb(line.name); }
      else if (line.type === 'doc') {
        docs++;
        const d = line.doc;
        const body = { data: d.data, ...(d.tags !== undefined ? { tags: d.tags } : {}), ...(d.content !== undefined ? { content: d.content } : {}), ...(d.deleted ? { deleted: true as const } : {}) };
        const n = revGeneration(d.rev);
        if (!Number.isFinite(n) || computeRev(n, body) !== d.rev) throw new Error(`refused: ${where}: document ${d.id}'s rev does not match its content`);
        digest.addDoc(line.db, d);
      } else if (line.type === 'end') end = line;
      else throw new Error(`refused: ${where}: not a backup line`);
    }
    if (!end) throw new Error(`refused: ${s.file} has no end line (truncated)`);
    if (end.seq !== s.seq || end.docs !== docs || end.dbs !== dbs || docs !== s.docs || dbs !== s.dbs) {
      throw new Error(`refused: ${s.file}: its end line or its content (${docs} docs, ${dbs} dbs, seq ${end.seq}) disagrees with the manifest (${s.docs}, ${s.dbs}, seq ${s.seq})`);
    }
    parts.push(digest.summary());
  }
  const diffs = compareSummaries(manifest.dbs, mergeSummaries(parts));
  if (diffs.length > 0) throw new Error(`refused: the files' content disagrees with the manifest's digests: ${diffs.join('; ')}`);
  return manifest;
}

async function* lines(path: string): AsyncGenerator<{ line: SnapshotLine; n: number; bytes: number }> {
  let n = 0;
  for await (const text of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    n++;
    if (text.length === 0) continue;
    let line: SnapshotLine;
    try {
      line = JSON.parse(text) as SnapshotLine;
    } catch {
      throw new Error(`refused: ${path} line ${n}: not JSON`);
    }
    yield { line, n, bytes: Buffer.byteLength(text) + 1 };
  }
}

async function restore(target: RouterTarget, dir: string, manifest: Manifest, quiet: boolean): Promise<void> {
  for (const db of Object.keys(manifest.dbs)) {
    await retry(`create db ${db}`, async () => {
      const a = await routerRequest(target, { method: 'PUT', path: `/v1/_backup/db/${encodeURIComponent(db)}`, auth: true, timeoutMs: 30_000 });
      if (a.status === 200 || a.status === 201) return;
      throw Object.assign(new Error(`PUT db ${db}: ${describeAnswer(a)}`), { retryable: a.status >= 500 });
    });
  }
  const progress = new Progress('restore', manifest.docs, { quiet });
  const inFlight = new Set<Promise<void>>();
  let failure: Error | null = null;
  const send = (db: string, docs: Doc[], bytes: number) => {
    const p = sendBatch(target, db, docs).then(() => progress.add(bytes, docs.length), (err: Error) => { failure ??= err; })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  try {
    for (const s of manifest.shards) {
      let batch: Doc[] = [];
      let batchDb = '';
      let batchBytes = 0;
      for await (const { line, bytes } of lines(join(dir, s.file))) {
        if (failure) break;
        if (line.type !== 'doc') continue;
        if (batch.length > 0 && (line.db !== batchDb || batch.length >= BATCH_DOCS || batchBytes + bytes > BATCH_BYTES)) {
          send(batchDb, batch, batchBytes);
          batch = [];
          batchBytes = 0;
          while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
        }
        batchDb = line.db;
        batch.push(line.doc);
        batchBytes += bytes;
      }
      if (batch.length > 0 && !failure) send(batchDb, batch, batchBytes);
    }
    await Promise.all(inFlight);
  } finally {
    progress.done();
  }
  if (failure) throw failure;
}

/** One batch; documents whose shard had no primary or quorum in time are sent again (a repeat of a written one is a no-op). */
async function sendBatch(target: RouterTarget, db: string, docs: Doc[]): Promise<void> {
  let pending = docs;
  await retry(`restore into ${db}`, async () => {
    const a = await routerRequest(target, { method: 'POST', path: `/v1/_backup/db/${encodeURIComponent(db)}/docs`, body: { docs: pending }, auth: true, timeoutMs: 60_000 });
    if (a.status !== 200) throw Object.assign(new Error(`POST ${db} docs: ${describeAnswer(a)}`), { retryable: a.status >= 500 });
    const results = a.body as Array<{ ok?: true; id: string; error?: string; reason?: string }>;
    const again: Doc[] = [];
    results.forEach((r, i) => {
      if (r.ok) return;
      if (RETRYABLE.has(r.error ?? '')) again.push(pending[i]!);
      else throw Object.assign(new Error(`document ${r.id} in ${db}: ${r.error}: ${r.reason}`), { retryable: false });
    });
    pending = again;
    if (again.length > 0) throw Object.assign(new Error(`${again.length} documents of ${db} not written yet (${results.find((r) => !r.ok)?.error})`), { retryable: true });
  });
}

async function retry(what: string, fn: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const retryable = (err as { retryable?: boolean }).retryable !== false && !(err as Error).message.startsWith('refused');
      if (!retryable || attempt >= 8) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    }
  }
}

/** The target's content, read back through the same committed snapshots a backup takes. */
export async function clusterSummary(target: RouterTarget, shards: number): Promise<Record<string, DbSummary>> {
  const parts: Array<Record<string, DbSummary>> = [];
  for (let shard = 0; shard < shards; shard++) {
    const digest = new ContentDigest();
    let ended = false;
    for await (const l of shardSnapshot(target, shard)) {
      const line = JSON.parse(l.text) as SnapshotLine | { type: 'error'; error: string; message: string };
      if (line.type === 'error') throw new Error(`verify: shard ${shard}: ${line.error}: ${line.message}`);
      if (line.type === 'db') digest.addDb(line.name);
      else if (line.type === 'doc') digest.addDoc(line.db, line.doc);
      else ended = true;
    }
    if (!ended) throw new Error(`verify: shard ${shard}'s snapshot ended without its end line`);
    parts.push(digest.summary());
  }
  return mergeSummaries(parts);
}
