import { afterEach, describe, expect, it } from 'vitest';
import { LogBuffer } from '../../router/replication/log-buffer.ts';
import { CATCH_UP_LOG_MIN_ENTRIES, ReplicaStream, type StreamHost, type StreamOptions } from '../../router/replication/replica-stream.ts';
import type { Clock } from '../../src/core/clock.ts';
import { TesseraError } from '../../src/core/errors.ts';
import { UnreachableError, type NodeClient, type RequestOptions } from '../../src/core/http/client.ts';
import { createLogger, type Logger } from '../../src/core/logger.ts';
import type { LogEntry, NodeState, ReplicateRequest } from '../../src/core/protocol.ts';

// The ReplicaStream driver with a hand-driven clock and in-memory peers (no
// sockets, no sleeps): catch-up from the buffer and the WAL, gap → probe,
// backoff doubling to its cap, early wake when the node is seen again.

class ManualClock implements Clock {
  t = 1_000;
  timers: Array<{ at: number; fn: () => void; id: number }> = [];
  #id = 0;
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#id;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown): void { this.timers = this.timers.filter((x) => x.id !== h); }
  /** Moves time forward, firing due timers in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
    await settle();
  }
}

/** Lets every pending promise chain run (the fake peers answer via microtasks and immediates). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

const entry = (seq: number, term = 1): LogEntry => ({ seq, term, op: 'put', db: 'd', id: `x${seq}`, rev: '1-a', doc: null, ts: 0 });

/** A peer answering the replication endpoints from an in-memory log (Raft-like replicate rule, simplified). */
class FakePeer {
  log: LogEntry[] = [];
  term = 1;
  role: 'primary' | 'replica' = 'replica';
  down = false;
  replicates: ReplicateRequest[] = [];
  url = 'http://fake';

  constructor(readonly id: string) {}

  get lastSeq(): number { return this.log.at(-1)?.seq ?? 0; }

  async json<T>(opts: RequestOptions): Promise<{ status: number; body: T; headers: Record<string, string> }> {
    await Promise.resolve();
    if (this.down) throw new UnreachableError(this.url, new Error('ECONNREFUSED'), false);
    const ok = (body: unknown) => ({ status: 200, body: body as T, headers: {} });
    const url = new URL(opts.path, 'http://x');
    if (url.pathname.endsWith('/state')) {
      const state: NodeState = {
        nodeId: this.id, shardId: 0, role: 'replica', term: this.term, votedFor: null, primaryId: null,
        lastSeq: this.lastSeq, lastTerm: this.log.at(-1)?.term ?? 0, commitSeq: 0, oldestSeq: (this.log[0]?.seq ?? this.lastSeq + 1), ready: true, rollbackCount: 0,
      };
      return ok(state);
    }
    if (url.pathname.endsWith('/wal')) {
      const since = Number(url.searchParams.get('since'));
      const limit = Number(url.searchParams.get('limit'));
      return ok({ entries: this.log.filter((e) => e.seq > since).slice(0, limit), lastSeq: this.lastSeq, oldestSeq: 1, term: this.term, role: this.role });
    }
    if (url.pathname.endsWith('/replicate')) {
      const r = opts.body as ReplicateRequest;
      this.replicates.push(r);
      if (r.term < this.term) throw new TesseraError('stale_term', undefined, { term: this.term });
      const prev = this.log.find((e) => e.seq === r.prevSeq);
      if (r.prevSeq > this.lastSeq || (r.prevSeq > 0 && prev?.term !== r.prevTerm)) {
        throw new TesseraError('gap', undefined, { lastSeq: this.lastSeq, lastTerm: this.log.at(-1)?.term ?? 0, mismatch: r.prevSeq <= this.lastSeq });
      }
      for (const e of r.entries) {
        const mine = this.log.find((x) => x.seq === e.seq);
        if (mine && mine.term === e.term) continue;
        this.log = this.log.filter((x) => x.seq < e.seq);
        this.log.push(e);
      }
      if (r.truncate) {
        const end = r.entries.at(-1)?.seq ?? r.prevSeq;
        this.log = this.log.filter((x) => x.seq <= end || x.term >= r.term);
      }
      return ok({ ok: true, term: this.term, lastSeq: this.lastSeq, lastTerm: this.log.at(-1)?.term ?? 0, rolledBack: 0 });
    }
    throw new Error(`unexpected ${opts.path}`);
  }
}

const OPTIONS: StreamOptions = {
  maxBatchEntries: 3, maxBatchBytes: 1e9, requestTimeoutMs: 1000, snapshotTimeoutMs: 5000,
  heartbeatMs: 200, commitPushMs: 20, backoffCapMs: 200, holeWaitMs: 50, probeWidth: 4,
};

let stream: ReplicaStream | null = null;

afterEach(async () => {
  await stream?.stop();
  stream = null;
});

function setup(primaryLog: LogEntry[], opts: { buffer?: LogEntry[]; term?: number; log?: Logger } = {}) {
  const clock = new ManualClock();
  const primary = new FakePeer('p');
  primary.role = 'primary';
  primary.term = opts.term ?? 1;
  primary.log = primaryLog;
  const replica = new FakePeer('r');
  const buffer = new LogBuffer({ maxEntries: 100, maxBytes: 1e9 });
  buffer.add(opts.buffer ?? []);
  const higherTerms: Array<number | undefined> = [];
  let progress = 0;
  const host: StreamHost = {
    shardId: 0, buffer, get primaryLastSeq() { return primary.lastSeq; }, commitSeq: 0, writesInFlight: 0, confirmSinceMs: null, onConfirmed: () => {}, primaryHeardMsAgo: () => undefined,
    notePrimaryWal: () => undefined,
    onProgress: () => { progress++; },
    onHigherTerm: (t) => { higherTerms.push(t); },
  };
  stream = new ReplicaStream({
    host, nodeId: 'r', replica: replica as unknown as NodeClient, primaryId: 'p', primary: primary as unknown as NodeClient,
    term: opts.term ?? 1, clock, log: opts.log ?? createLogger({ name: 't', level: 'silent' }), options: OPTIONS,
  });
  return { clock, primary, replica, stream, higherTerms, progress: () => progress };
}

describe('ReplicaStream', () => {
  it('relays nothing from a source that is no longer the primary of its term, and reports the higher term', async () => {
    const log = [1, 2, 3].map((s) => entry(s));
    const t = setup(log);
    // Deposed and rewritten: a newer primary's entries now sit in its log.
    t.primary.role = 'replica';
    t.primary.term = 2;
    t.primary.log = [entry(1), entry(2, 2), entry(3, 2)];
    t.stream.start();
    await t.clock.advance(500);
    expect(t.replica.replicates.flatMap((r) => r.entries)).toEqual([]);
    expect(t.higherTerms).toContain(2);
  });

  it('brings an empty replica up to the primary in batches, in seq order, from buffer and WAL', async () => {
    const log = [1, 2, 3, 4, 5, 6, 7].map((s) => entry(s));
    const t = setup(log, { buffer: log.slice(4) }); // 5..7 buffered, 1..4 only in the WAL
    t.stream.start();
    await t.clock.advance(0);
    expect(t.replica.log.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const sent = t.replica.replicates.flatMap((r) => r.entries.map((e) => e.seq));
    expect(sent).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(Math.max(...t.replica.replicates.map((r) => r.entries.length))).toBeLessThanOrEqual(OPTIONS.maxBatchEntries);
    expect(t.stream.matchSeq).toBe(7);
    expect(t.progress()).toBeGreaterThan(0);
  });

  it('repairs a diverged replica: probe finds the match point, truncate drops its stale suffix', async () => {
    const t = setup([entry(1), entry(2), entry(3, 2), entry(4, 2)], { term: 2 });
    t.replica.log = [entry(1), entry(2), entry(3), entry(4), entry(5)];
    t.stream.start();
    await t.clock.advance(0);
    expect(t.replica.log.map((e) => `${e.seq}:${e.term}`)).toEqual(['1:1', '2:1', '3:2', '4:2']);
    expect(t.stream.matchSeq).toBe(4);
  });

  it('backs off doubling up to the cap while the replica is unreachable, and retries at once when woken', async () => {
    const t = setup([entry(1), entry(2)]);
    t.replica.down = true;
    const attempts: number[] = [];
    const json = t.replica.json.bind(t.replica);
    t.replica.json = async (o) => { attempts.push(t.clock.now()); return json(o); };
    t.stream.start();
    await t.clock.advance(1000);
    const gaps = attempts.slice(1).map((a, i) => a - attempts[i]!);
    expect(gaps.slice(0, 6)).toEqual([25, 50, 100, 200, 200, 200]);
    expect(t.stream.reachable).toBe(false);

    // The node is back: a health observation wakes the stream without waiting out the backoff.
    t.replica.down = false;
    const before = attempts.length;
    t.stream.wake(true);
    await t.clock.advance(0);
    expect(attempts.length).toBeGreaterThan(before);
    expect(t.replica.log.map((e) => e.seq)).toEqual([1, 2]);
    expect(t.stream.reachable).toBe(true);
  });

  it('sends an empty batch to an idle replica each heartbeat, carrying the commit point', async () => {
    const t = setup([entry(1)]);
    t.stream.start();
    await t.clock.advance(0);
    const n = t.replica.replicates.length;
    await t.clock.advance(OPTIONS.heartbeatMs * 3);
    const beats = t.replica.replicates.slice(n);
    expect(beats.length).toBe(3);
    expect(beats.every((r) => r.entries.length === 0 && r.prevSeq === 1)).toBe(true);
  });

  it('reports a higher term seen on the replica and stops replicating to it', async () => {
    const t = setup([entry(1)]);
    t.replica.term = 5;
    t.stream.start();
    await t.clock.advance(0);
    expect(t.higherTerms).toContain(5);
    expect(t.replica.log).toEqual([]);
  });

  it('logs one catch-up start and end for a replica far behind, none while it is down or only slightly behind', async () => {
    const lines: Array<{ msg: string; fields: Record<string, unknown> }> = [];
    const log = {
      info: (fields: Record<string, unknown>, msg: string) => { lines.push({ msg, fields }); },
      warn: () => undefined, debug: () => undefined,
    } as unknown as Logger;
    const t = setup([entry(1)], { log });
    t.stream.start();
    await t.clock.advance(0);
    expect(t.replica.lastSeq).toBe(1);

    // The replica dies and the primary moves far ahead: retrying a dead replica is not a catch-up.
    const far = CATCH_UP_LOG_MIN_ENTRIES + 50;
    t.replica.down = true;
    t.primary.log.push(...Array.from({ length: far - 1 }, (_, i) => entry(i + 2)));
    t.stream.wake();
    await t.clock.advance(1000);
    expect(lines).toEqual([]);

    t.replica.down = false;
    t.stream.wake(true);
    await t.clock.advance(0);
    expect(t.replica.lastSeq).toBe(far);
    expect(lines.map((l) => l.msg)).toEqual(['replica catching up', 'replica caught up']);
    expect(lines[0]!.fields).toMatchObject({ node: 'r', reason: 'behind', matchSeq: 1, primaryLastSeq: far });
    expect(lines[1]!.fields).toMatchObject({ node: 'r', fromSeq: 1, matchSeq: far, snapshot: false });

    // The normal relay tail is not a catch-up.
    t.primary.log.push(...Array.from({ length: CATCH_UP_LOG_MIN_ENTRIES }, (_, i) => entry(far + i + 1)));
    t.stream.wake();
    await t.clock.advance(0);
    expect(t.replica.lastSeq).toBe(far + CATCH_UP_LOG_MIN_ENTRIES);
    expect(lines).toHaveLength(2);
  });
});
