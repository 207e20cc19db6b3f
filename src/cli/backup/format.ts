import { createHash } from 'node:crypto';
import { canonicalJson } from '../../core/doc/canonical.ts';
import type { Doc } from '../../core/protocol.ts';

// The backup format (README "Backup and restore"): a folder with one NDJSON
// file per shard — the shard's snapshot lines as the router released them,
// `end` last — and manifest.json. Pure pieces: the manifest's shape, the
// content digest that proves two clusters hold the same documents whatever
// their shard counts, and the progress line.

export const FORMAT = 'tessera-backup';
export const FORMAT_VERSION = 1;
export const MANIFEST = 'manifest.json';
export const shardFile = (shard: number) => `shard-${shard}.ndjson`;

export interface ShardEntry {
  shard: number;
  file: string;
  /** The committed seq the shard was read at, in the term of its primary then. */
  seq: number;
  term: number;
  primaryId: string;
  docs: number;
  dbs: number;
  bytes: number;
  /** sha256 of the whole file: a truncated or changed file no longer matches. */
  sha256: string;
}

export interface DbSummary {
  docs: number;
  deleted: number;
  /** Order-independent digest of every (db, document): equal iff the same documents, on any shard layout. */
  digest: string;
}

export interface Manifest {
  format: typeof FORMAT;
  version: typeof FORMAT_VERSION;
  createdAt: string;
  router: string;
  shards: ShardEntry[];
  dbs: Record<string, DbSummary>;
  docs: number;
}

const MOD = 1n << 256n;

/**
 * Per database: documents, tombstones, and the sum mod 2^256 of
 * sha256(db, canonical JSON of the document). A sum (not a hash of a sorted
 * list) so that shards can be read in any order and split differently, and
 * (unlike XOR) two copies of one document do not cancel out.
 */
export class ContentDigest {
  readonly #dbs = new Map<string, { docs: number; deleted: number; sum: bigint }>();

  addDb(db: string): void {
    if (!this.#dbs.has(db)) this.#dbs.set(db, { docs: 0, deleted: 0, sum: 0n });
  }

  addDoc(db: string, doc: Doc): void {
    this.addDb(db);
    const s = this.#dbs.get(db)!;
    s.docs++;
    if (doc.deleted) s.deleted++;
    const h = createHash('sha256').update(db).update('\n').update(canonicalJson(doc)).digest('hex');
    s.sum = (s.sum + BigInt(`0x${h}`)) % MOD;
  }

  summary(): Record<string, DbSummary> {
    const out: Record<string, DbSummary> = {};
    for (const db of [...this.#dbs.keys()].sort()) {
      const s = this.#dbs.get(db)!;
      out[db] = { docs: s.docs, deleted: s.deleted, digest: s.sum.toString(16).padStart(64, '0') };
    }
    return out;
  }
}

/** Databases whose summaries differ (missing on either side included), for messages. */
export function compareSummaries(expected: Record<string, DbSummary>, actual: Record<string, DbSummary>): string[] {
  const out: string[] = [];
  for (const db of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    const e = expected[db];
    const a = actual[db];
    if (!e) out.push(`${db}: in the cluster, not in the backup`);
    else if (!a) out.push(`${db}: in the backup, not in the cluster`);
    else if (e.docs !== a.docs || e.deleted !== a.deleted || e.digest !== a.digest) {
      out.push(`${db}: backup ${e.docs} docs (${e.deleted} deleted) ${e.digest.slice(0, 12)}, cluster ${a.docs} docs (${a.deleted} deleted) ${a.digest.slice(0, 12)}`);
    }
  }
  return out;
}

/** Checks a parsed manifest's shape; the problems, empty when it is one. */
export function manifestProblems(m: unknown): string[] {
  if (m === null || typeof m !== 'object') return ['not a JSON object'];
  const x = m as Partial<Manifest>;
  const p: string[] = [];
  if (x.format !== FORMAT) p.push(`format: expected "${FORMAT}"`);
  if (x.version !== FORMAT_VERSION) p.push(`version: expected ${FORMAT_VERSION}`);
  if (!Array.isArray(x.shards) || x.shards.length === 0) p.push('shards: expected a non-empty list');
  else {
    x.shards.forEach((s, i) => {
      const ok = s && typeof s === 'object' && s.shard === i && s.file === shardFile(i) && [s.seq, s.term, s.docs, s.dbs, s.bytes].every(Number.isSafeInteger)
        && typeof s.sha256 === 'string' && /^[0-9a-f]{64}$/.test(s.sha256);
      if (!ok) p.push(`shards[${i}]: expected {shard: ${i}, file: "${shardFile(i)}", seq, term, docs, dbs, bytes, sha256}`);
    });
  }
  if (x.dbs === null || typeof x.dbs !== 'object') p.push('dbs: expected an object');
  return p;
}

export interface ProgressState {
  bytes: number;
  docs: number;
  /** Documents expected in all (an estimate from the dbs' counts), 0 when unknown. */
  totalDocs: number;
  elapsedMs: number;
  label: string;
}

const units = ['B', 'KB', 'MB', 'GB', 'TB'];

export function formatBytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.ceil(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
}

/** `backup [#######-------]  47%  12.3 MB  4700/10000 docs  1566 docs/s  2.1 MB/s  ETA 4s` */
export function renderProgress(p: ProgressState, width = 20): string {
  const secs = Math.max(p.elapsedMs, 1) / 1000;
  const rate = p.docs / secs;
  const frac = p.totalDocs > 0 ? Math.min(1, p.docs / p.totalDocs) : 0;
  const filled = Math.round(frac * width);
  const bar = p.totalDocs > 0 ? `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}%` : '[?]';
  const eta = p.totalDocs > 0 && rate > 0 ? formatSeconds(Math.max(0, p.totalDocs - p.docs) / rate) : '?';
  const of = p.totalDocs > 0 ? `/${p.totalDocs}` : '';
  return `${p.label} ${bar}  ${formatBytes(p.bytes)}  ${p.docs}${of} docs  ${Math.round(rate)} docs/s  ${formatBytes(p.bytes / secs)}/s  ETA ${eta}`;
}

/** The summaries of several shards as one: counts add up, digests add up mod 2^256. */
export function mergeSummaries(parts: ReadonlyArray<Record<string, DbSummary>>): Record<string, DbSummary> {
  const acc = new Map<string, { docs: number; deleted: number; sum: bigint }>();
  for (const part of parts) {
    for (const [db, s] of Object.entries(part)) {
      const a = acc.get(db) ?? { docs: 0, deleted: 0, sum: 0n };
      a.docs += s.docs;
      a.deleted += s.deleted;
      a.sum = (a.sum + BigInt(`0x${s.digest}`)) % MOD;
      acc.set(db, a);
    }
  }
  const out: Record<string, DbSummary> = {};
  for (const db of [...acc.keys()].sort()) {
    const a = acc.get(db)!;
    out[db] = { docs: a.docs, deleted: a.deleted, digest: a.sum.toString(16).padStart(64, '0') };
  }
  return out;
}
