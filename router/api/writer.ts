import type { Clock } from '../../src/core/clock.ts';
import { fromBody, TesseraError } from '../../src/core/errors.ts';
import { UnreachableError } from '../../src/core/http/client.ts';
import type { RouterMetrics } from '../../src/core/metrics.ts';
import { COMMIT_HEADER, IDEMPOTENCY_HEADER, KEEP_HEADER, TERM_HEADER, type LogEntry } from '../../src/core/protocol.ts';
import type { ShardRuntime } from '../replication/shard-runtime.ts';

// The quorum write (DESIGN §4 and §5.3, router/DESIGN.md "Write path"): send
// to the primary stamped with the view's term, hand the appended entries to
// the shard's replication, and answer once the commit point covers the write.
// Every network call gets the request's remaining budget as its deadline, so
// no client request outlives writeTimeoutMs (+ the answer's own time).

export interface WriteRequest {
  method: 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface WriteResult {
  status: number;
  /** The node's answer without `entries`, plus `shard` and `acks`. */
  body: Record<string, unknown>;
  seq: number;
}

export interface WriterDeps {
  clock: Clock;
  writeTimeoutMs: number;
  metrics?: RouterMetrics;
}

export function noPrimary(shard: number, message = 'The shard has no reachable primary right now'): TesseraError {
  return new TesseraError('no_primary', message, { outcome: 'not_applied', shard }, { 'retry-after': '1' });
}

export function quorumNotMet(shard: number, acks: number, required: number, message?: string): TesseraError {
  return new TesseraError('quorum_not_met', message ?? `The write reached ${acks} of ${required} copies in time`, {
    outcome: 'indeterminate', acks, required, shard,
  }, { 'retry-after': '1' });
}

/**
 * Runs one write against a shard. `deadlineMs` is absolute (clock time).
 * Errors: the node's own 4xx pass through as TesseraErrors; `no_primary`
 * (not applied) when no primary takes it; `quorum_not_met` (indeterminate)
 * when the primary may have applied it but the quorum was not seen in time.
 */
export async function writeToShard(deps: WriterDeps, rt: ShardRuntime, req: WriteRequest, deadlineMs: number): Promise<WriteResult> {
  const { clock } = deps;
  const required = rt.writeQuorum;
  // An attempt whose connection broke after the request went out may have been
  // applied (the primary can die between its commit and its answer): from then
  // on the write is indeterminate, never `not_applied`, whatever a retry meets.
  let mayBeApplied = false;
  const keyed = req.headers?.[IDEMPOTENCY_HEADER] !== undefined;
  const unavailable = (err: TesseraError): TesseraError => (mayBeApplied
    ? quorumNotMet(rt.shardId, 0, required, 'The primary was lost after it may have applied the write; a retry is safe')
    : err);
  for (let attempt = 0; ; attempt++) {
    const canRetry = attempt === 0;
    if (!(await rt.writable(deadlineMs))) throw unavailable(noPrimary(rt.shardId, `Writes to shard ${rt.shardId} are paused for a primary switchover`));
    let primary = rt.primary();
    if (!primary) {
      await rt.refresh(Math.min(1000, deadlineMs - clock.now()));
      primary = rt.primary();
      if (!primary) throw unavailable(noPrimary(rt.shardId));
    }
    const remaining = deadlineMs - clock.now();
    if (remaining <= 0) throw unavailable(noPrimary(rt.shardId, 'No time left to reach the primary'));
    const term = rt.view.term;
    const viewSignal = rt.viewSignal;
    const headers: Record<string, string> = {
      ...req.headers,
      [TERM_HEADER]: String(term),
      [COMMIT_HEADER]: String(rt.commitSeq),
      [KEEP_HEADER]: String(rt.keepSeq()),
    };
    let res;
    try {
      res = await rt.sendWrite(() => primary.client.raw({ method: req.method, path: req.path, body: req.body, headers, timeoutMs: remaining, signal: viewSignal }));
    } catch (err) {
      if (err instanceof UnreachableError) {
        // A timeout may hide an applied write; so may a connection closed after the
        // request went out. Only a connection refused or reset applied nothing.
        if (err.timedOut) {
          throw quorumNotMet(rt.shardId, 0, required, viewSignal.aborted
            ? 'The shard changed primary while the write was in flight; it may or may not have been applied'
            : 'The primary did not answer in time; the write may or may not have been applied');
        }
        if (!err.notDelivered) mayBeApplied = true;
        if (canRetry) {
          // Safe even if it was applied: a re-sent write is answered as the first time (DESIGN §4).
          await rt.refresh(Math.min(1000, Math.max(50, deadlineMs - clock.now())));
          if (clock.now() < deadlineMs) continue;
        }
        throw unavailable(noPrimary(rt.shardId, `The primary of shard ${rt.shardId} is unreachable`));
      }
      throw err;
    }
    if (res.status >= 400) {
      const e = fromBody(res.body, res.status);
      if (e.code === 'not_primary' || e.code === 'stale_term') {
        // Another router elected, or the node stepped down: find the primary and try once more.
        rt.hint(typeof e.details.term === 'number' ? e.details.term : undefined);
        await rt.refresh(Math.min(1000, Math.max(50, deadlineMs - clock.now())));
        if (canRetry && clock.now() < deadlineMs) continue;
        throw unavailable(noPrimary(rt.shardId));
      }
      // After a broken connection the first attempt may have been applied: a retry refused with a
      // 409 (superseded since) or 404 then says nothing about it. With an Idempotency-Key the
      // retry's answer is the first attempt's (or a first run), so it is exact.
      if (mayBeApplied && e.status < 500 && !keyed) {
        throw quorumNotMet(rt.shardId, 0, required, `The primary was lost after it may have applied the write, and a retry was refused (${e.code}): the outcome is unknown`);
      }
      throw e;
    }
    const body = res.body as Record<string, unknown> & { entries?: LogEntry[]; seq?: number };
    const entries = Array.isArray(body.entries) ? body.entries : [];
    delete body.entries;
    const lastEntry = entries.at(-1);
    const seq = Math.max(typeof body.seq === 'number' ? body.seq : 0, lastEntry?.seq ?? 0);
    rt.noteEntries(entries, term, Number(res.headers['content-length'] ?? 0));
    const startWait = clock.now();
    const committed = await rt.waitForCommit(seq, term, deadlineMs);
    // After a view change the match points describe another primary's log: only the answering primary is known to hold it.
    const acks = rt.view.term === term ? rt.acks(seq) : 1;
    const shard = String(rt.shardId);
    deps.metrics?.quorumWait.observe({ shard, outcome: committed ? 'ok' : 'timeout' }, (clock.now() - startWait) / 1000);
    deps.metrics?.acks.observe({ shard }, acks);
    if (!committed) throw quorumNotMet(rt.shardId, acks, required);
    return { status: res.status, body: { ...body, shard: rt.shardId, acks }, seq };
  }
}
