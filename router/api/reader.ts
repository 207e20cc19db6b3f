import type { Clock } from '../../src/core/clock.ts';
import { errors, fromBody, TesseraError } from '../../src/core/errors.ts';
import { UnreachableError, type JsonResponse } from '../../src/core/http/client.ts';
import { COMMIT_HEADER, PENDING_HEADER, SEQ_HEADER, TERM_HEADER } from '../../src/core/protocol.ts';
import type { ShardNode, ShardRuntime } from '../replication/shard-runtime.ts';

// Reads (DESIGN §4, router/DESIGN.md "Reads"). Every node serves committed
// data only, as of a read point (its commit point, raised by the one we send);
// a node's answer names the seq it served and, when the document (or its db)
// has a newer write that has not committed yet, that write's seq.
//  - primary (default): linearizable. The read is stamped with the view's
//    term (only that term's primary answers it), waits for a pending write to
//    commit before it is answered (so no write acknowledged by any router is
//    missed), and is answered only once W − 1 replicas have shown, after the
//    read began, that no newer primary can have been elected (read index).
//  - any: the first copy that answers, replicas first: committed, possibly stale.
//  - quorum (only when readQuorum + writeQuorum > nodes): readQuorum copies,
//    the newest by seq, after waiting for any newer write a copy holds
//    uncommitted: linearizable as well, without a leadership check, at the
//    cost of R requests instead of one.

export const READ_MODES = ['primary', 'any', 'quorum'] as const;
export type ReadMode = (typeof READ_MODES)[number];

export interface ReaderDeps {
  clock: Clock;
  readQuorum: number;
  /** replication.allowUnsafeQuorum: serve read=quorum even when R + W <= N. */
  allowUnsafeQuorum?: boolean;
}

export interface ReadAnswer {
  status: number;
  body: unknown;
  /** Seq of the revision served (0: none at the read point). */
  seq: number;
  /** A newer write to what was read that has not committed on that copy yet (its seq). */
  pending?: number;
}

/** A read that could not be served in time; reads have no outcome to report, they are simply retried. */
export function readUnavailable(shard: number, message: string): TesseraError {
  return new TesseraError('no_primary', message, { shard }, { 'retry-after': '1' });
}

/** A single-shard read; the node's 4xx (404 ...) become TesseraErrors. */
export async function readFromShard(deps: ReaderDeps, rt: ShardRuntime, path: string, mode: ReadMode, deadlineMs: number): Promise<ReadAnswer> {
  const answer = mode === 'any' ? await readAny(deps, rt, path, deadlineMs)
    : mode === 'quorum' ? await readQuorum(deps, rt, path, deadlineMs)
      : await readPrimary(deps, rt, { path }, deadlineMs, { linearizable: true });
  if (answer.status >= 400) throw fromBody(answer.body, answer.status);
  return answer;
}

export interface PrimaryRead {
  path: string;
  method?: 'GET' | 'POST';
  body?: unknown;
}

/**
 * The primary's committed answer for `read`, whatever its status. A pending
 * write (document or db) is waited for, then the read is asked again; an
 * unknown or unreachable primary, or one that is no longer primary of the
 * view's term, is looked up again, within the deadline. `linearizable` also
 * stamps the term and waits for the leadership check (single documents; the
 * scatter reads of several documents are committed, not linearizable).
 */
export async function readPrimary(deps: ReaderDeps, rt: ShardRuntime, read: PrimaryRead, deadlineMs: number, opts: { linearizable: boolean }): Promise<ReadAnswer> {
  const { clock } = deps;
  const startedMs = clock.now();
  let lastProblem = `no primary of shard ${rt.shardId} answered`;
  for (let attempt = 0; attempt < 20 && clock.now() < deadlineMs; attempt++) {
    let primary = rt.primary();
    if (!primary) {
      await rt.refresh(Math.min(1000, Math.max(50, deadlineMs - clock.now())));
      primary = rt.primary();
      if (!primary) {
        lastProblem = `shard ${rt.shardId} has no primary right now`;
        continue;
      }
    }
    const term = rt.view.term;
    const signal = rt.viewSignal;
    // Started with the request, so the heartbeat it may need runs alongside it.
    const confirmed = opts.linearizable ? rt.confirmLeadership(startedMs, deadlineMs) : Promise.resolve(true);
    const headers: Record<string, string> = { [COMMIT_HEADER]: String(rt.commitSeq) };
    if (opts.linearizable) headers[TERM_HEADER] = String(term);
    let res: JsonResponse<unknown>;
    try {
      res = await primary.client.raw({
        method: read.method ?? 'GET', path: read.path, ...(read.body !== undefined ? { body: read.body } : {}), headers,
        timeoutMs: Math.max(1, deadlineMs - clock.now()), signal,
      });
    } catch (err) {
      if (!(err instanceof UnreachableError)) throw err;
      lastProblem = `the primary of shard ${rt.shardId} is unreachable`;
      await rt.refresh(Math.min(1000, Math.max(50, deadlineMs - clock.now())));
      continue;
    }
    const e = res.status >= 400 ? fromBody(res.body, res.status) : null;
    if (e && (e.code === 'not_primary' || e.code === 'stale_term')) {
      // Another router elected, or the node stepped down: find the primary again.
      rt.hint(typeof e.details.term === 'number' ? e.details.term : undefined);
      lastProblem = `the primary of shard ${rt.shardId} changed`;
      await rt.refresh(Math.min(1000, Math.max(50, deadlineMs - clock.now())));
      continue;
    }
    const pending = pendingSeqOf(res, e);
    if (pending !== null) {
      // A write newer than what was served may have been acknowledged by another router: wait for it.
      if (!(await rt.waitForCommit(pending, term, deadlineMs))) lastProblem = `a write to shard ${rt.shardId} did not commit in time`;
      continue;
    }
    if (!(await confirmed) || rt.view.term !== term) {
      lastProblem = `the primary of shard ${rt.shardId} could not show it still leads its term`;
      continue;
    }
    return { status: res.status, body: res.body, seq: seqOf(res) };
  }
  throw readUnavailable(rt.shardId, lastProblem);
}

function pendingSeqOf(res: JsonResponse<unknown>, e: TesseraError | null): number | null {
  const h = res.headers[PENDING_HEADER];
  if (typeof h === 'string' && /^[0-9]+$/.test(h)) return Number(h);
  // A db created or deleted above the read point answers 503 with the op's seq.
  if (e && e.code === 'unavailable' && typeof e.details.pendingSeq === 'number') return e.details.pendingSeq;
  return null;
}

function seqOf(res: JsonResponse<unknown>): number {
  const h = res.headers[SEQ_HEADER];
  return typeof h === 'string' && /^[0-9]+$/.test(h) ? Number(h) : 0;
}

/**
 * The commit point a copy may read at: this router's, but never beyond the
 * replica's match point (past it, a replica's log may still diverge).
 */
function readerCommit(rt: ShardRuntime, node: ShardNode): number {
  if (node.id === rt.view.primaryId) return rt.commitSeq;
  const m = rt.streams.get(node.id)?.matchSeq ?? 0;
  return Math.min(rt.commitSeq, m);
}

async function readAny(deps: ReaderDeps, rt: ShardRuntime, path: string, deadlineMs: number): Promise<ReadAnswer> {
  const { clock } = deps;
  const primaryId = rt.view.primaryId;
  // Replicas that answered replication lately first, then the primary, then the rest.
  const nodes = [...rt.nodes.values()].sort((a, b) => rank(rt, a, primaryId) - rank(rt, b, primaryId));
  for (const node of nodes) {
    const left = deadlineMs - clock.now();
    if (left <= 0) break;
    try {
      const a = await ask(node, path, Math.min(left, 1000), readerCommit(rt, node));
      // A copy that cannot serve committed data (catching up past a snapshot) lets the next one try.
      if (a.status === 503) continue;
      return a;
    } catch (err) {
      if (!(err instanceof UnreachableError)) throw err;
    }
  }
  throw new TesseraError('unavailable', `No copy of shard ${rt.shardId} answered`, { shard: rt.shardId }, { 'retry-after': '1' });
}

function rank(rt: ShardRuntime, node: ShardNode, primaryId: string | null): number {
  if (node.id === primaryId) return 1;
  return rt.streams.get(node.id)?.reachable === false ? 2 : 0;
}

async function readQuorum(deps: ReaderDeps, rt: ShardRuntime, path: string, deadlineMs: number): Promise<ReadAnswer> {
  const { clock, readQuorum: needed } = deps;
  const n = rt.nodes.size;
  // R + W > N: every read quorum meets every write quorum, so one of the copies asked holds any
  // acknowledged write (served, or reported pending above its read point: then waited for).
  if (needed + rt.writeQuorum <= n && !deps.allowUnsafeQuorum) {
    throw errors.badRequest(
      `querystring.read: read=quorum needs readQuorum + writeQuorum > nodes to see every acknowledged write (shard ${rt.shardId}: readQuorum ${needed} + writeQuorum ${rt.writeQuorum} <= ${n} nodes); raise replication.readQuorum to ${n - rt.writeQuorum + 1}, or read=primary`,
      { path: 'querystring.read', readQuorum: needed, writeQuorum: rt.writeQuorum, nodes: n },
    );
  }
  let lastProblem = `fewer than ${needed} copies of shard ${rt.shardId} answered`;
  for (let attempt = 0; attempt < 20 && clock.now() < deadlineMs; attempt++) {
    const term = rt.view.term;
    const answers = await firstAnswers(rt, path, needed, deadlineMs, clock);
    if (answers.length < needed) {
      throw new TesseraError('unavailable', `Only ${answers.length} of ${needed} copies answered`, { shard: rt.shardId, answered: answers.length, required: needed }, { 'retry-after': '1' });
    }
    const served = answers.filter((a) => a.status < 500);
    const best = served.length > 0 ? newestAnswer(served) : null;
    const pending = Math.max(0, ...answers.map((a) => a.pending ?? 0));
    if (best && pending <= best.seq) return best;
    // A copy holds a newer write to this document above its read point: it may have been
    // acknowledged (by any router). Wait until this router counts it committed, then ask again.
    if (!(await rt.waitForCommit(pending, term, deadlineMs))) lastProblem = `a write to shard ${rt.shardId} did not commit in time`;
  }
  throw readUnavailable(rt.shardId, lastProblem);
}

/** The first `needed` answers (committed ones, or 503s that name a pending seq), or all there are. */
async function firstAnswers(rt: ShardRuntime, path: string, needed: number, deadlineMs: number, clock: Clock): Promise<ReadAnswer[]> {
  const answers: ReadAnswer[] = [];
  await new Promise<void>((resolve) => {
    let left = rt.nodes.size;
    for (const node of rt.nodes.values()) {
      ask(node, path, deadlineMs - clock.now(), readerCommit(rt, node)).then((a) => {
        if (a.status < 500 || a.pending !== undefined) answers.push(a);
      }, () => undefined).finally(() => {
        left--;
        if (answers.length >= needed || left === 0) resolve();
      });
    }
  });
  return answers.slice(0, Math.max(needed, answers.length));
}

/**
 * The newest of several copies' committed answers: the highest seq of the
 * revision served, a tombstone's 404 included (a copy that has not seen a
 * delete must not undo it); equal seqs are the same revision.
 */
export function newestAnswer(answers: ReadonlyArray<ReadAnswer>): ReadAnswer {
  let best = answers[0]!;
  for (const a of answers.slice(1)) if (a.seq > best.seq) best = a;
  return best;
}

async function ask(node: ShardNode, path: string, timeoutMs: number, commit: number): Promise<ReadAnswer> {
  if (timeoutMs <= 0) throw new UnreachableError(node.url, new Error('no time left'), true);
  const res: JsonResponse<unknown> = await node.client.raw({ path, timeoutMs, headers: { [COMMIT_HEADER]: String(commit) } });
  const pending = pendingSeqOf(res, res.status >= 400 ? fromBody(res.body, res.status) : null);
  return { status: res.status, body: res.body, seq: seqOf(res), ...(pending !== null ? { pending } : {}) };
}
