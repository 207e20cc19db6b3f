import type { Clock } from '../../src/core/clock.ts';
import type { ReplicationConfig } from '../../src/core/config/index.ts';
import type { NodeClient } from '../../src/core/http/client.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { RouterMetrics } from '../../src/core/metrics.ts';
import { REPLICATION_PREFIX, type LogEntry, type NodeState } from '../../src/core/protocol.ts';
import type { ShardFacts } from '../failover/cluster-status.ts';
import { updateWriteRate, type WriteRate, acksFor, advanceCommit, quorumSeq } from '../../src/rules/index.ts';
import { LogBuffer } from './log-buffer.ts';
import { ReplicaStream, type StreamHost, type StreamOptions } from './replica-stream.ts';
import { ShardView } from './shard-view.ts';

// Everything the router runs for one shard: its view, the recent-entry
// buffer, one ReplicaStream per replica, and the commit point with the writes
// waiting on it. Streams belong to one (term, primary): when the view moves,
// they are all replaced, because match points are relative to a primary's log.
// (Just over 400 lines: view, buffer, streams, commit waiters and the write
// pause are one unit because a view change must reset all of them at once.)

export interface ShardNode {
  id: string;
  url: string;
  client: NodeClient;
}

export interface ShardRuntimeDeps {
  shardId: number;
  nodes: ShardNode[];
  replication: Readonly<ReplicationConfig>;
  clock: Clock;
  log: Logger;
  metrics?: RouterMetrics;
  streamOptions?: Partial<StreamOptions>;
}

interface Waiter {
  seq: number;
  term: number;
  resolve(committed: boolean): void;
  timer: unknown;
}

/** A linearizable read waiting for proof that the view's primary still leads (router/DESIGN.md "Reads"). */
interface ConfirmWaiter {
  sinceMs: number;
  term: number;
  resolve(confirmed: boolean): void;
  timer: unknown;
}

export class ShardRuntime implements StreamHost {
  readonly shardId: number;
  readonly view: ShardView;
  readonly buffer = new LogBuffer({ maxEntries: 50_000, maxBytes: 64 * 1024 * 1024 });
  readonly nodes: ReadonlyMap<string, ShardNode>;
  readonly #d: ShardRuntimeDeps;
  readonly #streamOptions: StreamOptions;
  readonly streams = new Map<string, ReplicaStream>();
  primaryLastSeq = 0;
  /** Lowest seq known to hold an entry of the view's term (Raft's commit rule), null = none known. */
  currentTermFrom: number | null = null;
  /** Writes sent to the primary whose answers have not arrived (a hole in the buffer is likely one of them). */
  #writesInFlight = 0;
  #onWritesSettled: Array<() => void> = [];
  /** Writes waiting at a pause. */
  #writesHeld = 0;
  #waiters: Waiter[] = [];
  readonly #confirmWaiters = new Set<ConfirmWaiter>();
  /** When the view's primary last answered this router (a poll, a write, a WAL read); null: not in this view. */
  #primaryHeardAtMs: number | null = null;
  /** When the view last changed (a new primary gets a failover timeout to show up before it is judged silent). */
  #viewSinceMs = 0;
  /** The shard's smoothed write rate, from the primary's lastSeq over time (Lagging threshold). */
  #writeRate: WriteRate | null = null;
  #commitListeners = new Set<() => void>();
  #notifiedCommitSeq = 0;
  #paused: { promise: Promise<void>; resolve: () => void } | null = null;
  #refreshing: Promise<void> | null = null;
  #stopped = false;
  #viewAbort = new AbortController();

  constructor(deps: ShardRuntimeDeps) {
    this.#d = deps;
    this.shardId = deps.shardId;
    this.nodes = new Map(deps.nodes.map((n) => [n.id, n]));
    this.view = new ShardView(deps.shardId, deps.nodes.map((n) => n.id));
    const r = deps.replication;
    this.#streamOptions = {
      maxBatchEntries: 1000,
      maxBatchBytes: 4 * 1024 * 1024,
      requestTimeoutMs: Math.max(500, r.writeTimeoutMs),
      snapshotTimeoutMs: 300_000,
      heartbeatMs: r.healthCheckIntervalMs,
      commitPushMs: Math.min(20, r.healthCheckIntervalMs),
      backoffCapMs: r.healthCheckIntervalMs,
      holeWaitMs: 50,
      probeWidth: 64,
      ...deps.streamOptions,
    };
  }

  get commitSeq(): number {
    return this.view.commitSeq;
  }

  get writeQuorum(): number {
    return this.#d.replication.writeQuorum;
  }

  /**
   * Aborted when the view leaves its current (term, primary): a write still in
   * flight to the old primary can no longer be acknowledged (its commit wait
   * would fail at once), so its client need not wait out writeTimeoutMs on a
   * primary that stopped answering.
   */
  get viewSignal(): AbortSignal {
    return this.#viewAbort.signal;
  }

  /** The primary as the view knows it, or null (unknown, election pending). */
  primary(): ShardNode | null {
    return this.view.primaryId === null ? null : this.nodes.get(this.view.primaryId) ?? null;
  }

  /**
   * Holds new writes (a manual switchover catches its target up while the
   * shard takes no writes); writes already sent finish. Idempotent.
   */
  pauseWrites(): void {
    if (this.#paused) return;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => { resolve = r; });
    this.#paused = { promise, resolve };
  }

  resumeWrites(): void {
    const p = this.#paused;
    this.#paused = null;
    p?.resolve();
  }

  get writesPaused(): boolean {
    return this.#paused !== null;
  }

  get writesInFlight(): number {
    return this.#writesInFlight;
  }

  get writesHeld(): number {
    return this.#writesHeld;
  }

  /** Sends one write to the primary, counted in `writesInFlight` until its answer (or failure) is in. */
  async sendWrite<T>(send: () => Promise<T>): Promise<T> {
    this.#writesInFlight++;
    try {
      return await send();
    } finally {
      this.#writesInFlight--;
      if (this.#writesInFlight === 0) {
        const waiting = this.#onWritesSettled;
        this.#onWritesSettled = [];
        for (const w of waiting) w();
      }
    }
  }

  /** Resolves true once no write is in flight, false at `deadlineMs` (a switchover measures a log that no longer moves). */
  writesSettled(deadlineMs: number): Promise<boolean> {
    if (this.#writesInFlight === 0) return Promise.resolve(true);
    const { clock } = this.#d;
    return new Promise<boolean>((resolve) => {
      const done = () => {
        clock.clearTimeout(timer);
        resolve(true);
      };
      const timer = clock.setTimeout(() => {
        this.#onWritesSettled = this.#onWritesSettled.filter((w) => w !== done);
        resolve(false);
      }, Math.max(0, deadlineMs - clock.now()));
      this.#onWritesSettled.push(done);
    });
  }

  /** Resolves true when writes may go (now or after a resume), false at `deadlineMs`. */
  async writable(deadlineMs: number): Promise<boolean> {
    while (this.#paused) {
      const left = deadlineMs - this.#d.clock.now();
      if (left <= 0) return false;
      let timer: unknown;
      const timeout = new Promise<void>((r) => { timer = this.#d.clock.setTimeout(r, left); });
      this.#writesHeld++;
      try {
        await Promise.race([this.#paused.promise, timeout]);
      } finally {
        this.#writesHeld--;
        this.#d.clock.clearTimeout(timer);
      }
    }
    return true;
  }

  /** Feeds a node's state (or its silence) into the view: the hook for the health monitor. */
  observe(nodeId: string, state: NodeState | null, nowMs: number): void {
    if (this.#stopped) return;
    const changed = this.view.observe(nodeId, state, nowMs);
    if (changed) this.#onViewChange();
    if (state !== null) {
      if (nodeId === this.view.primaryId && state.term === this.view.term) {
        this.#primaryHeardAtMs = nowMs;
        this.#notePrimaryPosition(state.lastSeq, state.lastTerm);
        this.#writeRate = updateWriteRate(this.#writeRate, state.lastSeq, nowMs);
      }
      this.streams.get(nodeId)?.wake(true);
    }
    this.#recount();
  }

  /** An election result from the coordinator. */
  adopt(term: number, primaryId: string): void {
    if (this.view.adopt(term, primaryId)) this.#onViewChange();
  }

  /** A 409 said our term is old: drop the primary and ask everyone (coalesced). */
  hint(term: number | undefined): void {
    if (this.view.hint(term)) this.#onViewChange();
  }

  /**
   * Asks every node for its state at once; concurrent callers share one
   * round, but each waits at most its own `timeoutMs` (a caller's budget is
   * never stretched by a round someone else started with a longer deadline).
   */
  refresh(timeoutMs: number): Promise<void> {
    const { clock } = this.#d;
    const wait = Math.max(50, timeoutMs);
    if (!this.#refreshing) {
      const round = Promise.all([...this.nodes.values()].map(async (n) => {
        let state: NodeState | null = null;
        try {
          state = (await n.client.json<NodeState>({ path: `${REPLICATION_PREFIX}/state`, timeoutMs: wait })).body;
        } catch {
          state = null;
        }
        this.observe(n.id, state, clock.now());
      })).then(() => undefined);
      this.#refreshing = round.finally(() => { this.#refreshing = null; });
    }
    let timer: unknown;
    const timeout = new Promise<void>((resolve) => { timer = clock.setTimeout(resolve, wait); });
    return Promise.race([this.#refreshing, timeout]).finally(() => clock.clearTimeout(timer));
  }

  /**
   * Resolves true once the view's primary is known to have led its term at
   * some moment after `sinceMs` (Raft's read index check): W − 1 replicas
   * answered, at that term, requests sent after `sinceMs`; with the primary's
   * own answer at that term that is a write quorum, and any majority that
   * could have elected a newer primary shares a node with it. False when the
   * view moves on or at `deadlineMs`. Concurrent reads share the heartbeats
   * this asks the streams for; under writes the batches themselves confirm.
   */
  confirmLeadership(sinceMs: number, deadlineMs: number): Promise<boolean> {
    if (this.#leadsSince(sinceMs)) return Promise.resolve(true);
    const { clock } = this.#d;
    return new Promise<boolean>((resolve) => {
      const w: ConfirmWaiter = {
        sinceMs, term: this.view.term, resolve, timer: clock.setTimeout(() => this.#settleConfirm(w, false), Math.max(0, deadlineMs - clock.now())),
      };
      this.#confirmWaiters.add(w);
      for (const s of this.streams.values()) s.wake();
    });
  }

  /** The earliest start among reads waiting for confirmation (the streams send a heartbeat for it), or null. */
  get confirmSinceMs(): number | null {
    let min: number | null = null;
    for (const w of this.#confirmWaiters) if (min === null || w.sinceMs < min) min = w.sinceMs;
    return min;
  }

  onConfirmed(): void {
    for (const w of [...this.#confirmWaiters]) {
      if (w.term !== this.view.term) this.#settleConfirm(w, false);
      else if (this.#leadsSince(w.sinceMs)) this.#settleConfirm(w, true);
    }
  }

  #leadsSince(sinceMs: number): boolean {
    const need = this.writeQuorum - 1;
    if (need <= 0) return true;
    let n = 0;
    // Strictly after: a request stamped in the millisecond the read began may have been sent before it.
    for (const s of this.streams.values()) if (s.countsForQuorum && s.confirmedAtMs > sinceMs) n++;
    return n >= need;
  }

  #settleConfirm(w: ConfirmWaiter, confirmed: boolean): void {
    if (!this.#confirmWaiters.delete(w)) return;
    this.#d.clock.clearTimeout(w.timer);
    w.resolve(confirmed);
  }

  /** Entries the primary appended for a write (its answer); `approxBytes` = answer size. */
  noteEntries(entries: ReadonlyArray<LogEntry>, writeTerm: number, approxBytes: number): void {
    if (entries.length === 0 || writeTerm !== this.view.term) return;
    this.#primaryHeardAtMs = this.#d.clock.now();
    const mine = entries.filter((e) => e.term === writeTerm);
    if (mine.length === 0) return;
    this.buffer.add(mine, approxBytes);
    this.#noteCurrentTerm(mine);
    this.#notePrimaryPosition(mine.at(-1)!.seq, mine.at(-1)!.term);
    for (const s of this.streams.values()) s.wake();
    this.#recount();
  }

  notePrimaryWal(lastSeq: number, entries: ReadonlyArray<LogEntry>): void {
    this.#primaryHeardAtMs = this.#d.clock.now();
    this.#noteCurrentTerm(entries);
    const last = entries.at(-1);
    this.#notePrimaryPosition(lastSeq, last && last.seq === lastSeq ? last.term : null);
  }

  onProgress(): void {
    this.#recount();
  }

  /**
   * How long ago the view's primary last answered this router, for the
   * replicas (leader stickiness, ReplicateRequest.primaryHeardMsAgo);
   * undefined when it has not answered in this view.
   */
  primaryHeardMsAgo(): number | undefined {
    return this.#primaryHeardAtMs === null ? undefined : Math.max(0, Math.round(this.#d.clock.now() - this.#primaryHeardAtMs));
  }

  /** When the view last changed term or primary. */
  get viewSinceMs(): number {
    return this.#viewSinceMs;
  }

  onHigherTerm(term: number | undefined): void {
    this.hint(term);
    void this.refresh(this.#d.replication.healthCheckIntervalMs);
  }

  /**
   * The replicas' match points in config order (null = unknown). A fresh
   * data dir not joined yet counts for nothing: it may have forgotten a term
   * in which its vote helped elect someone else (shard/DESIGN.md "Incarnations").
   */
  matchSeqs(): Array<number | null> {
    return [...this.streams.values()].map((s) => (s.countsForQuorum ? s.matchSeq : null));
  }

  /** Copies (primary included) known to hold `seq`. */
  acks(seq: number): number {
    return acksFor(seq, this.primaryLastSeq, this.matchSeqs());
  }

  /** Lowest seq a reachable replica still needs minus one: the primary keeps its WAL above it. */
  keepSeq(): number {
    let keep = this.commitSeq;
    for (const s of this.streams.values()) if (s.reachable && s.matchSeq !== null && s.matchSeq < keep) keep = s.matchSeq;
    return keep;
  }

  /**
   * Resolves true once `seq` (written at `term`) is quorum-committed, false at
   * `deadlineMs` or as soon as the view leaves `term` — after that, commit
   * points count another primary's log and say nothing about this entry.
   */
  waitForCommit(seq: number, term: number, deadlineMs: number): Promise<boolean> {
    if (term !== this.view.term) return Promise.resolve(false);
    if (this.commitSeq >= seq) return Promise.resolve(true);
    const { clock } = this.#d;
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        seq, term, resolve, timer: clock.setTimeout(() => this.#settle(waiter, false), Math.max(0, deadlineMs - clock.now())),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Resolves at the next commit advance or at `deadlineMs` (long-polling _changes). */
  waitForCommitChange(deadlineMs: number): Promise<void> {
    const { clock } = this.#d;
    return new Promise<void>((resolve) => {
      const done = () => {
        clock.clearTimeout(timer);
        this.#commitListeners.delete(done);
        resolve();
      };
      const timer = clock.setTimeout(done, Math.max(0, deadlineMs - clock.now()));
      this.#commitListeners.add(done);
    });
  }

  /** Plain facts for status and readiness (cluster-status.ts). */
  facts(): ShardFacts {
    return {
      id: this.shardId, term: this.view.term, primaryId: this.view.primaryId, commitSeq: this.commitSeq, primaryLastSeq: this.primaryLastSeq,
      writeRatePerMs: this.#writeRate?.ratePerMs ?? 0,
      nodes: [...this.nodes.values()].map((n) => {
        const s = this.streams.get(n.id);
        return {
          id: n.id, url: n.url, seen: this.view.nodes.get(n.id)!, isPrimary: n.id === this.view.primaryId,
          ...(s ? { stream: { mode: s.mode, matchSeq: s.matchSeq, reachable: s.reachable } } : {}),
        };
      }),
    };
  }

  waitingLongPolls(): number {
    return this.#commitListeners.size;
  }

  /** Ends every long poll now (shutdown: they re-check and answer with what they have). */
  releaseLongPolls(): void {
    for (const l of [...this.#commitListeners]) l();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.resumeWrites();
    for (const w of [...this.#waiters]) this.#settle(w, false);
    for (const w of [...this.#confirmWaiters]) this.#settleConfirm(w, false);
    for (const l of [...this.#commitListeners]) l();
    await Promise.all([...this.streams.values()].map((s) => s.stop()));
    this.streams.clear();
  }

  #settle(w: Waiter, committed: boolean): void {
    const i = this.#waiters.indexOf(w);
    if (i < 0) return;
    this.#waiters.splice(i, 1);
    this.#d.clock.clearTimeout(w.timer);
    w.resolve(committed);
  }

  #noteCurrentTerm(entries: ReadonlyArray<LogEntry>): void {
    for (const e of entries) {
      if (e.term === this.view.term && (this.currentTermFrom === null || e.seq < this.currentTermFrom)) this.currentTermFrom = e.seq;
    }
  }

  #notePrimaryPosition(lastSeq: number, lastTerm: number | null): void {
    if (lastSeq > this.primaryLastSeq) this.primaryLastSeq = lastSeq;
    if (lastTerm === this.view.term && (this.currentTermFrom === null || lastSeq < this.currentTermFrom)) this.currentTermFrom = lastSeq;
    for (const s of this.streams.values()) s.wake();
  }

  #recount(): void {
    const candidate = quorumSeq(this.primaryLastSeq, this.matchSeqs(), this.writeQuorum);
    const next = advanceCommit(this.view.commitSeq, candidate, this.currentTermFrom);
    if (next > this.view.commitSeq) this.view.commitSeq = next;
    if (this.#waiters.length > 0) {
      for (const w of [...this.#waiters]) {
        if (w.term !== this.view.term) this.#settle(w, false);
        else if (w.seq <= this.view.commitSeq) this.#settle(w, true);
      }
    }
    if (this.view.commitSeq > this.#notifiedCommitSeq) {
      this.#notifiedCommitSeq = this.view.commitSeq;
      for (const l of [...this.#commitListeners]) l();
    }
  }

  /** The term or primary changed: match points and buffered entries belong to the old primary's log. */
  #onViewChange(): void {
    const { log, clock, metrics } = this.#d;
    this.#viewSinceMs = clock.now();
    this.#primaryHeardAtMs = null;
    this.#viewAbort.abort();
    this.#viewAbort = new AbortController();
    for (const s of this.streams.values()) void s.stop();
    this.streams.clear();
    this.buffer.clear();
    this.primaryLastSeq = 0;
    this.currentTermFrom = null;
    for (const w of [...this.#waiters]) if (w.term !== this.view.term) this.#settle(w, false);
    for (const w of [...this.#confirmWaiters]) if (w.term !== this.view.term) this.#settleConfirm(w, false);
    const primary = this.primary();
    log.info({ shard: this.shardId, term: this.view.term, primary: primary?.id ?? null }, 'shard view changed');
    if (!primary || this.#stopped) return;
    const pState = this.view.nodes.get(primary.id)?.state;
    if (pState && pState.term === this.view.term) this.#notePrimaryPosition(pState.lastSeq, pState.lastTerm);
    for (const node of this.nodes.values()) {
      if (node.id === primary.id) continue;
      const stream = new ReplicaStream({
        host: this, nodeId: node.id, replica: node.client, primaryId: primary.id, primary: primary.client,
        term: this.view.term, clock, log, options: this.#streamOptions, metrics,
      });
      this.streams.set(node.id, stream);
      stream.start();
    }
  }
}
