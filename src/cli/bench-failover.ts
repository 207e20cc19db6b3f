import { Pool } from 'undici';
import { shardFor } from '../core/hash.ts';
import { findShard, newPrimaryElected, readBackViolations, unavailabilityMs, type ReadBack } from './failover-checks.ts';
import type { ManagedProcess } from '../launch/managed-process.ts';
import { waitFor } from '../launch/wait-for.ts';

// The failover run of the bench script (DESIGN §8): write load on every
// shard, SIGKILL one shard's primary a third of the way in, and report how
// long writes to that shard were unavailable and whether any acknowledged
// write was lost. Bounded by duration and by a cap on requests.

export interface FailoverBenchOptions {
  routerUrl: string;
  shardCount: number;
  /** The shard whose primary is killed. */
  shard: number;
  /** The processes of the cluster by node id (the primary is killed through them). */
  nodes: Record<string, ManagedProcess>;
  clients: number;
  durationMs: number;
  maxOps?: number;
  requestTimeoutMs?: number;
  onProgress?: (line: string) => void;
}

export interface FailoverBenchResult {
  killed: string | null;
  newPrimary: string | null;
  /** Kill → /v1/_cluster shows a new primary at a higher term. */
  electionMs: number | null;
  /** Kill → first write to the shard that was sent after the kill and succeeded. */
  unavailableMs: number | null;
  acked: number;
  failed: number;
  lost: number;
  lostExamples: string[];
}

export async function runFailoverBench(opts: FailoverBenchOptions): Promise<FailoverBenchResult> {
  const maxOps = opts.maxOps ?? 200_000;
  const timeoutMs = opts.requestTimeoutMs ?? 15_000;
  const pool = new Pool(opts.routerUrl, { connections: opts.clients + 2 });
  const say = opts.onProgress ?? (() => {});
  const call = async (method: 'GET' | 'PUT', path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await pool.request({
      method, path,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.body.text();
    try {
      return { status: res.statusCode, body: text ? JSON.parse(text) : null };
    } catch {
      return { status: res.statusCode, body: text };
    }
  };

  try {
    const db = `bench_failover_${Date.now().toString(36)}`;
    const created = await call('PUT', `/v1/db/${db}`);
    if (created.status >= 300) throw new Error(`cannot create db ${db}: ${created.status}`);

    const acked = new Map<string, string>();
    const onShard: Array<{ startMs: number; ok: boolean }> = [];
    let failed = 0;
    let issued = 0;
    const start = performance.now();
    const deadline = start + opts.durationMs;
    const writers = Array.from({ length: opts.clients }, async (_, c) => {
      for (let n = 0; performance.now() < deadline && issued < maxOps; n++) {
        issued++;
        const id = `fo-${c}-${n}`;
        const startMs = performance.now();
        let ok = false;
        try {
          const r = await call('PUT', `/v1/db/${db}/docs/${id}`, { data: { c, n } });
          ok = r.status === 200 || r.status === 201;
          if (ok) acked.set(id, r.body.rev);
        } catch { /* unreachable: counted as failed */ }
        if (!ok) failed++;
        if (shardFor(id, opts.shardCount) === opts.shard) onShard.push({ startMs, ok });
      }
    });

    // A third of the way in, kill the shard's primary.
    await waitFor(() => performance.now() >= start + opts.durationMs / 3, { timeoutMs: opts.durationMs, intervalMs: 50 });
    const before = findShard((await call('GET', '/v1/_cluster')).body, opts.shard);
    let killed: string | null = null;
    let newPrimary: string | null = null;
    let electionMs: number | null = null;
    let killAt = performance.now();
    if (before?.primaryId && opts.nodes[before.primaryId]) {
      killed = before.primaryId;
      killAt = performance.now();
      await opts.nodes[killed]!.kill('SIGKILL');
      say(`failover: killed ${killed}, primary of shard ${opts.shard} at term ${before.term}`);
      const victim = { primaryId: killed, term: before.term };
      const after = await waitFor(async () => {
        const s = findShard((await call('GET', '/v1/_cluster')).body, opts.shard);
        return newPrimaryElected(victim, s) ? s : null;
      }, { timeoutMs: Math.max(5_000, deadline - performance.now() + 10_000), intervalMs: 50, message: 'a new primary' }).catch(() => null);
      if (after) {
        newPrimary = after.primaryId;
        electionMs = Math.round(performance.now() - killAt);
        say(`failover: ${newPrimary} is primary at term ${after.term} after ${electionMs} ms`);
      } else {
        say('failover: no new primary was elected');
      }
    } else {
      say(`failover: shard ${opts.shard} has no known primary to kill`);
    }
    await Promise.all(writers);
    // Bring the node back so the cluster is whole again (it rejoins as a replica).
    if (killed) await opts.nodes[killed]!.start().catch((err: Error) => say(`failover: restarting ${killed} failed: ${err.message}`));

    const read = new Map<string, ReadBack>();
    const ids = [...acked.keys()];
    await Promise.all(Array.from({ length: Math.min(16, opts.clients) }, async () => {
      for (let id = ids.pop(); id !== undefined; id = ids.pop()) {
        try {
          const r = await call('GET', `/v1/db/${db}/docs/${id}`);
          read.set(id, { status: r.status, rev: r.body?.rev });
        } catch (err) {
          read.set(id, { status: 0, rev: (err as Error).message });
        }
      }
    }));
    const lost = readBackViolations(acked, read, 'router');
    const window = killed ? unavailabilityMs(killAt, onShard) : null;
    return {
      killed, newPrimary, electionMs,
      unavailableMs: window === null ? null : Math.round(window),
      acked: acked.size, failed, lost: lost.length, lostExamples: lost.slice(0, 5),
    };
  } finally {
    await pool.close();
  }
}
