import type { Doc, NodeState, WalResponse } from '../../src/core/protocol.ts';
import { waitFor } from '../../src/launch/wait-for.ts';
import { INSPECT_HEADERS } from './inspect.ts';

// Shared end-of-scenario checks for the failover cluster tests (issue 4
// "Done when"): every acknowledged write is readable through the router and
// on every node of its shard, and the nodes of a shard hold identical
// documents and identical logs. Nodes are read directly with the secret, so
// the checks do not depend on the router's view being right.

/** One acknowledged (2xx) write: the doc's id, the rev it answered and the data sent. */
export interface AckedWrite {
  id: string;
  rev: string;
  data: Record<string, unknown>;
}

/** Everything a node holds, in a comparable form. */
export interface ShardDigest {
  nodeId: string;
  lastSeq: number;
  lastTerm: number;
  commitSeq: number;
  oldestSeq: number;
  /** db → its docs (tombstones included) sorted by id. */
  docs: Record<string, Doc[]>;
  /** `seq:term` of every log entry the node still holds, in order. */
  log: string[];
}

const PAGE = 1000;
const WAL_PAGE = 10_000;
const REQUEST_TIMEOUT_MS = 5000;

async function getJson<T>(url: string, secret?: string): Promise<{ status: number; body: T }> {
  // A document read from a node (with the secret) inspects the copy's whole log (test/harness/inspect.ts).
  const inspect = secret !== undefined && new URL(url).pathname.startsWith('/v1/db');
  const res = await fetch(url, {
    headers: secret ? { authorization: `Bearer ${secret}`, ...(inspect ? INSPECT_HEADERS : {}) } : {},
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function mustGet<T>(url: string, secret?: string): Promise<T> {
  const r = await getJson<T>(url, secret);
  if (r.status !== 200) throw new Error(`GET ${url} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Every acknowledged write is readable through the router with the rev and
 * data it was acknowledged with. Writers should use a fresh id per write, so
 * a later unacknowledged write to the same id cannot legitimately win.
 * Throws with the list of what is missing or different.
 */
export async function readAllAcked(routerUrl: string, db: string, acked: Iterable<AckedWrite>): Promise<void> {
  const problems: string[] = [];
  await eachLimited([...acked], 16, async (w) => {
    const r = await getJson<Doc & { error?: string }>(`${routerUrl}/v1/db/${db}/docs/${encodeURIComponent(w.id)}`);
    if (r.status !== 200) problems.push(`${w.id}: ${r.status} ${r.body?.error ?? ''}`);
    else if (r.body.rev !== w.rev) problems.push(`${w.id}: rev ${r.body.rev}, acknowledged ${w.rev}`);
    else if (JSON.stringify(r.body.data) !== JSON.stringify(w.data)) problems.push(`${w.id}: data ${JSON.stringify(r.body.data)}, acknowledged ${JSON.stringify(w.data)}`);
  });
  if (problems.length > 0) {
    throw new Error(`${problems.length} acknowledged writes not readable through the router:\n  ${problems.slice(0, 30).join('\n  ')}`);
  }
}

/** A node's documents (every db, tombstones included, paged) and its log's (seq, term) list. */
export async function shardDigest(nodeUrl: string, secret: string): Promise<ShardDigest> {
  const state = await mustGet<NodeState>(`${nodeUrl}/v1/_replication/state`, secret);
  const { dbs } = await mustGet<{ dbs: string[] }>(`${nodeUrl}/v1/db`, secret);
  const docs: Record<string, Doc[]> = {};
  for (const db of [...dbs].sort()) {
    const all: Doc[] = [];
    let startAfter: string | null = null;
    for (let page = 0; page < 10_000; page++) {
      const q = `includeDeleted=true&limit=${PAGE}${startAfter !== null ? `&startAfter=${encodeURIComponent(startAfter)}` : ''}`;
      const body: { items: Doc[]; next: string | null } = await mustGet(`${nodeUrl}/v1/db/${db}/_all_docs?${q}`, secret);
      all.push(...body.items);
      startAfter = body.next;
      if (startAfter === null) break;
    }
    docs[db] = all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  const log: string[] = [];
  let since = state.oldestSeq - 1;
  for (let page = 0; page < 10_000 && since < state.lastSeq; page++) {
    const wal = await mustGet<WalResponse>(`${nodeUrl}/v1/_replication/wal?since=${since}&limit=${WAL_PAGE}&meta=1`, secret);
    if (wal.entries.length === 0) break;
    for (const e of wal.entries) if (e.seq <= state.lastSeq) log.push(`${e.seq}:${e.term}`);
    since = wal.entries.at(-1)!.seq;
  }
  return {
    nodeId: state.nodeId, lastSeq: state.lastSeq, lastTerm: state.lastTerm, commitSeq: state.commitSeq, oldestSeq: state.oldestSeq, docs, log,
  };
}

/** Why two digests differ (empty when they agree), comparing logs over the seqs both still hold. */
export function digestDiff(a: ShardDigest, b: ShardDigest): string[] {
  const out: string[] = [];
  if (a.lastSeq !== b.lastSeq || a.lastTerm !== b.lastTerm) {
    out.push(`last (seq, term): ${a.nodeId} (${a.lastSeq}, ${a.lastTerm}), ${b.nodeId} (${b.lastSeq}, ${b.lastTerm})`);
  }
  const from = Math.max(a.oldestSeq, b.oldestSeq);
  const inRange = (l: string[]) => l.filter((x) => Number(x.split(':')[0]) >= from);
  const la = inRange(a.log);
  const lb = inRange(b.log);
  const n = Math.max(la.length, lb.length);
  for (let i = 0; i < n; i++) {
    if (la[i] !== lb[i]) {
      out.push(`log differs from entry ${i} of the common range (from seq ${from}): ${a.nodeId} ${la.slice(i, i + 3).join(' ') || '(end)'}, ${b.nodeId} ${lb.slice(i, i + 3).join(' ') || '(end)'}`);
      break;
    }
  }
  const dbs = new Set([...Object.keys(a.docs), ...Object.keys(b.docs)]);
  for (const db of dbs) {
    const da = a.docs[db];
    const dbb = b.docs[db];
    if (!da || !dbb) {
      out.push(`db ${db} only on ${da ? a.nodeId : b.nodeId}`);
      continue;
    }
    const ma = new Map(da.map((d) => [d.id, JSON.stringify(d)]));
    const mb = new Map(dbb.map((d) => [d.id, JSON.stringify(d)]));
    const diffs: string[] = [];
    for (const [id, x] of ma) if (mb.get(id) !== x) diffs.push(mb.has(id) ? `${id} differs` : `${id} only on ${a.nodeId}`);
    for (const id of mb.keys()) if (!ma.has(id)) diffs.push(`${id} only on ${b.nodeId}`);
    if (diffs.length > 0) out.push(`db ${db}: ${diffs.length} docs differ (${diffs.slice(0, 8).join(', ')})`);
  }
  return out;
}

/**
 * Waits until every node reports the same lastSeq and holds the same
 * documents and the same log (over the seqs all still hold). The logs are
 * compared whole, not only up to commitSeq: once the positions agree, a
 * difference past commitSeq is a divergence the router must still repair.
 * Returns the digests; on timeout throws with a readable diff against the
 * first node.
 */
export async function waitConverged(nodeUrls: readonly string[], secret: string, timeoutMs: number): Promise<ShardDigest[]> {
  let last: ShardDigest[] | null = null;
  let lastProblem = 'no digest read yet';
  try {
    return await waitFor(async () => {
      // Cheap check first: reading every doc of every node is only worth it once the positions agree.
      const states = await Promise.all(nodeUrls.map((u) => mustGet<NodeState>(`${u}/v1/_replication/state`, secret)));
      if (!states.every((s) => s.lastSeq === states[0]!.lastSeq)) {
        lastProblem = `lastSeq: ${states.map((s) => `${s.nodeId}=${s.lastSeq}`).join(' ')}`;
        return null;
      }
      const digests = await Promise.all(nodeUrls.map((u) => shardDigest(u, secret)));
      last = digests;
      const problems = digests.slice(1).flatMap((d) => digestDiff(digests[0]!, d));
      if (problems.length > 0) {
        lastProblem = problems.join('\n  ');
        return null;
      }
      return digests;
    }, { timeoutMs, intervalMs: 100, message: 'nodes to converge' });
  } catch (err) {
    const positions = last ? (last as ShardDigest[]).map((d) => `${d.nodeId}: lastSeq ${d.lastSeq} commitSeq ${d.commitSeq} oldestSeq ${d.oldestSeq}`).join('; ') : '';
    throw new Error(`${(err as Error).message}\n  ${lastProblem}\n  ${positions}`);
  }
}

/**
 * Every acknowledged write is on every digested node with its acknowledged
 * rev and data (the node-side half of "readable everywhere").
 */
export function assertAckedOnNodes(digests: readonly ShardDigest[], db: string, acked: Iterable<AckedWrite>): void {
  const problems: string[] = [];
  const writes = [...acked];
  for (const d of digests) {
    const byId = new Map((d.docs[db] ?? []).map((doc) => [doc.id, doc]));
    let missing = 0;
    for (const w of writes) {
      const doc = byId.get(w.id);
      if (!doc || doc.deleted || doc.rev !== w.rev || JSON.stringify(doc.data) !== JSON.stringify(w.data)) {
        if (missing++ < 10) problems.push(`${d.nodeId}: ${w.id} ${doc ? `has rev ${doc.rev}` : 'missing'}, acknowledged ${w.rev}`);
      }
    }
    if (missing > 10) problems.push(`${d.nodeId}: ... ${missing} in all`);
  }
  if (problems.length > 0) throw new Error(`acknowledged writes missing on nodes:\n  ${problems.join('\n  ')}`);
}
