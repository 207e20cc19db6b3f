import type { Logger } from '../../src/core/logger.ts';
import type { Clock } from '../../src/core/clock.ts';
import { fromBody, TesseraError } from '../../src/core/errors.ts';
import { NodeClient, UnreachableError } from '../../src/core/http/client.ts';
import { REPLICATION_PREFIX, type LogEntry, type NodeState, type ReplicateRequest, type ReplicateResponse, type WalResponse } from '../../src/core/protocol.ts';
import type { RouterMetrics } from '../../src/core/metrics.ts';
import type { LogBuffer } from './log-buffer.ts';
import {
  batchSource, firstProbeWindow, MAX_WAL_PAGE, nextAction, nextBackoffMs, probeOutcome, shouldTruncate, widenProbeWindow,
  type StreamMode,
} from '../../src/rules/index.ts';

// One ReplicaStream per replica and per (term, primary): Raft's per-follower
// progress (router/DESIGN.md "Replication"). A single async loop, so at most
// one request is in flight per replica; whatever accumulated while it was out
// goes in the next batch. Decisions come from src/rules/replica-progress.ts.
// (Over 400 lines because probe, replicate and snapshot share the stream's
// progress state; each step is one method, and every decision is a rule.)

/** What a stream needs from its shard (ShardRuntime implements it). */
export interface StreamHost {
  readonly shardId: number;
  readonly buffer: LogBuffer;
  readonly primaryLastSeq: number;
  readonly commitSeq: number;
  readonly writesInFlight: number;
  /** A WAL read showed the primary's log position (and some of its entries). */
  notePrimaryWal(lastSeq: number, entries: ReadonlyArray<LogEntry>): void;
  /** matchSeq moved: recount the commit. */
  onProgress(): void;
  /** A replica or the primary showed a higher term: another router elected. */
  onHigherTerm(term: number | undefined): void;
  /** The earliest start of a read waiting for the primary's leadership to be confirmed, or null. */
  readonly confirmSinceMs: number | null;
  /** A replica answered at the stream's term: reads waiting for confirmation may go. */
  onConfirmed(): void;
  /** How long ago this router last heard from the primary (sent on with every batch: leader stickiness). */
  primaryHeardMsAgo(): number | undefined;
}

export interface StreamOptions {
  maxBatchEntries: number;
  maxBatchBytes: number;
  requestTimeoutMs: number;
  snapshotTimeoutMs: number;
  heartbeatMs: number;
  commitPushMs: number;
  backoffCapMs: number;
  holeWaitMs: number;
  probeWidth: number;
}

export interface StreamDeps {
  host: StreamHost;
  nodeId: string;
  replica: NodeClient;
  primaryId: string;
  primary: NodeClient;
  term: number;
  clock: Clock;
  log: Logger;
  metrics?: RouterMetrics;
  options: StreamOptions;
}

/**
 * A replica that answers a batch sent while it was more than this many
 * entries behind is catching up (one info line when that is seen, one when it
 * has what the primary had then); a smaller tail is the relay's normal lag.
 */
export const CATCH_UP_LOG_MIN_ENTRIES = 100;

export class ReplicaStream {
  readonly nodeId: string;
  // Progress (as etcd raft's Progress): mode and match point change only
  // through the #become* methods and #advance below.
  #mode: StreamMode = 'probe';
  #matchSeq: number | null = null;
  /** Term of the entry at matchSeq (prevTerm of the next batch). */
  #matchTerm = 0;
  #replicaLastSeq = 0;
  #sentCommitSeq = 0;
  #lastSentMs = 0;
  /** Whether the last request to the replica got an answer. */
  #reachable = true;
  /**
   * When the newest request that the replica answered at the stream's term
   * (or below it) was sent: the replica had not moved to a newer term then.
   * Linearizable reads count these (router/DESIGN.md "Reads").
   */
  #confirmedAtMs = 0;
  /** When the request in flight was sent (a `gap` answer confirms the term too). */
  #askedAtMs = 0;
  /** false while the replica's fresh data dir is not joined: its copy and its answers count for nothing. */
  #joined = true;
  readonly #d: StreamDeps;
  #backoffMs = 0;
  #backoffUntilMs = 0;
  #holeSinceMs: number | null = null;
  #gapsInARow = 0;
  #stopped = false;
  #wake: (() => void) | null = null;
  #pendingWake = false;
  #done: Promise<void> | null = null;
  /** A catch-up in progress: it ends once matchSeq reaches where the primary was when it began. */
  #catchUp: { startedMs: number; fromSeq: number | null; targetSeq: number; reason: string; snapshot: boolean } | null = null;

  constructor(deps: StreamDeps) {
    this.#d = deps;
    this.nodeId = deps.nodeId;
  }

  get mode(): StreamMode {
    return this.#mode;
  }

  /** Highest seq known to match the primary's log; null = unknown (probing). */
  get matchSeq(): number | null {
    return this.#matchSeq;
  }

  get reachable(): boolean {
    return this.#reachable;
  }

  get confirmedAtMs(): number {
    return this.#confirmedAtMs;
  }

  /** Whether the replica's match point may count toward a write quorum (and its answers toward a read's confirmation). */
  get countsForQuorum(): boolean {
    return this.#joined;
  }

  #noteJoined(joined: boolean | undefined): void {
    const now = joined !== false;
    if (now === this.#joined) return;
    this.#joined = now;
    this.#d.host.onProgress();
  }

  /** The replica answered a request sent at `askedAtMs` without showing a newer term. */
  #confirm(askedAtMs: number): void {
    if (askedAtMs <= this.#confirmedAtMs) return;
    this.#confirmedAtMs = askedAtMs;
    this.#d.host.onConfirmed();
  }

  start(): void {
    this.#done ??= this.#loop();
  }

  /** The match point is unknown: find it again by comparing log tails. */
  #becomeProbe(): void {
    this.#mode = 'probe';
    this.#matchSeq = null;
  }

  /** The primary's log no longer reaches the replica's (or it cannot repair itself): install a snapshot. */
  #becomeSnapshot(): void {
    this.#mode = 'snapshot';
  }

  /** A match point was found (probe, snapshot): stream entries from it. */
  #becomeReplicate(matchSeq: number, matchTerm: number): void {
    this.#mode = 'replicate';
    this.#matchSeq = matchSeq;
    this.#matchTerm = matchTerm;
    this.#d.host.onProgress();
  }

  /** The replica accepted entries up to (seq, term) of the primary's log. */
  #advance(seq: number, term: number): void {
    const moved = this.#matchSeq === null || seq > this.#matchSeq;
    this.#matchSeq = seq;
    this.#matchTerm = term;
    if (moved) this.#d.host.onProgress();
  }

  /** Ends the loop after the request in flight (each has its own deadline). */
  stop(): Promise<void> {
    this.#stopped = true;
    this.wake();
    return this.#done ?? Promise.resolve();
  }

  /** New entries or a new commit; `retryNow` also cancels a backoff (the node was seen again). */
  wake(retryNow = false): void {
    if (retryNow) this.#backoffUntilMs = 0;
    if (this.#wake) this.#wake();
    else this.#pendingWake = true;
  }

  async #loop(): Promise<void> {
    const { clock, host, options } = this.#d;
    while (!this.#stopped) {
      const action = nextAction({
        mode: this.#mode, matchSeq: this.#matchSeq, replicaLastSeq: this.#replicaLastSeq,
        primaryLastSeq: host.primaryLastSeq, commitSeq: host.commitSeq, sentCommitSeq: this.#sentCommitSeq,
        lastSentMs: this.#lastSentMs, backoffUntilMs: this.#backoffUntilMs, nowMs: clock.now(),
        heartbeatMs: options.heartbeatMs, commitPushMs: options.commitPushMs,
        confirmSinceMs: host.confirmSinceMs, confirmedAtMs: this.#confirmedAtMs,
      });
      try {
        switch (action.kind) {
          case 'wait': await this.#wait(action.untilMs); continue;
          case 'probe': await this.#probe(); break;
          case 'snapshot': await this.#snapshot(); break;
          case 'replicate': await this.#replicate(false); break;
          case 'heartbeat': await this.#replicate(true); break;
        }
        this.#backoffMs = 0;
      } catch (err) {
        if (this.#stopped) break;
        this.#onError(err);
      }
    }
  }

  #onError(err: unknown): void {
    const { log, host } = this.#d;
    const nodeId = this.nodeId;
    if (err instanceof TesseraError && err.code === 'gap') {
      // The replica's log diverges or is short: find the match point again.
      // It adopted our term to answer so: that confirms the term.
      this.#confirm(this.#askedAtMs);
      this.#gapsInARow++;
      this.#startCatchUp(err.details.needsSnapshot === true ? 'needs_snapshot' : err.details.mismatch === true ? 'diverged' : 'gap');
      if (err.details.needsSnapshot === true) this.#becomeSnapshot();
      else this.#becomeProbe();
      if (this.#gapsInARow < 3) return;
    } else if (err instanceof TesseraError && err.code === 'conflict') {
      // A conditional snapshot install found the copy's log moved on (another router): look again.
      this.#becomeProbe();
      return;
    } else if (err instanceof TesseraError && err.code === 'stale_term') {
      host.onHigherTerm(typeof err.details.term === 'number' ? err.details.term : undefined);
    } else if (err instanceof UnreachableError) {
      this.#reachable = false;
    } else {
      log.warn({ shard: host.shardId, node: nodeId, err: (err as Error).message }, 'replication to node failed');
    }
    this.#backoffMs = nextBackoffMs(this.#backoffMs, this.#d.options.backoffCapMs);
    this.#backoffUntilMs = this.#d.clock.now() + this.#backoffMs;
  }

  #wait(untilMs: number | null): Promise<void> {
    if (this.#pendingWake || this.#stopped) {
      this.#pendingWake = false;
      return Promise.resolve();
    }
    const { clock } = this.#d;
    return new Promise<void>((resolve) => {
      let timer: unknown = null;
      const done = () => {
        if (timer !== null) clock.clearTimeout(timer);
        this.#wake = null;
        this.#pendingWake = false;
        resolve();
      };
      if (untilMs !== null) timer = clock.setTimeout(done, Math.max(0, untilMs - clock.now()));
      this.#wake = done;
    });
  }

  async #getWal(client: NodeClient, since: number, limit: number, meta: boolean): Promise<WalResponse> {
    const q = `since=${since}&limit=${Math.max(1, Math.min(limit, MAX_WAL_PAGE))}${meta ? '&meta=1' : ''}`;
    const res = await client.json<WalResponse>({ path: `${REPLICATION_PREFIX}/wal?${q}`, timeoutMs: this.#d.options.requestTimeoutMs });
    return res.body;
  }

  /** Reads the primary's WAL; null (and snapshot mode) when it no longer reaches back that far. */
  async #getPrimaryWal(since: number, limit: number, meta: boolean): Promise<WalResponse | null> {
    try {
      const wal = await this.#getWal(this.#d.primary, since, limit, meta);
      // Relay only a log that is still the primary's of our term: a deposed
      // primary's log may since have been rewritten by a newer one.
      if (wal.role !== undefined && (wal.role !== 'primary' || wal.term !== this.#d.term)) {
        throw new TesseraError('stale_term', `source ${this.#d.primaryId} is ${wal.role} at term ${wal.term}`, { term: wal.term });
      }
      this.#d.host.notePrimaryWal(wal.lastSeq, wal.entries);
      return wal;
    } catch (err) {
      if (err instanceof TesseraError && err.code === 'gone') {
        this.#becomeSnapshot();
        return null;
      }
      if (err instanceof TesseraError && err.code === 'stale_term') this.#d.host.onHigherTerm(err.details.term as number | undefined);
      throw err;
    }
  }

  async #probe(): Promise<void> {
    const { replica, term, options, clock } = this.#d;
    const askedAtMs = clock.now();
    const st = (await replica.json<NodeState>({ path: `${REPLICATION_PREFIX}/state`, timeoutMs: options.requestTimeoutMs })).body;
    this.#reachable = true;
    if (st.term > term) {
      this.#d.host.onHigherTerm(st.term);
      throw new TesseraError('stale_term', `node ${this.nodeId} is at term ${st.term}`, { term: st.term });
    }
    this.#noteJoined(st.joined);
    this.#confirm(askedAtMs);
    const base = st.oldestSeq - 1;
    this.#replicaLastSeq = st.lastSeq;
    let window = firstProbeWindow(st.lastSeq, base, options.probeWidth);
    for (let round = 0; round < 64 && !this.#stopped; round++) {
      const replicaTail = window.hi > window.lo ? (await this.#getWal(replica, window.lo, window.hi - window.lo, true)).entries : [];
      // One entry below the window too, so the term at the window's floor is known.
      const pSince = Math.max(0, window.lo - 1);
      const primary = await this.#getPrimaryWal(pSince, window.hi - pSince, true);
      if (!primary) return;
      const outcome = probeOutcome({
        window, replicaTail, primaryTail: primary.entries, replicaBaseSeq: base,
        primaryLastSeq: primary.lastSeq, primaryOldestSeq: primary.oldestSeq,
      });
      if (outcome.kind === 'widen') {
        window = widenProbeWindow(window, base);
        continue;
      }
      if (outcome.kind === 'snapshot') {
        this.#becomeSnapshot();
        return;
      }
      // The replica's own last entry (or its base, when its log is empty) carries the term too.
      const matchTerm = outcome.seq === 0 ? 0
        : primary.entries.find((e) => e.seq === outcome.seq)?.term ?? (outcome.seq === st.lastSeq ? st.lastTerm : undefined);
      if (matchTerm === undefined) {
        this.#becomeSnapshot();
        return;
      }
      this.#becomeReplicate(outcome.seq, matchTerm);
      this.#noteCatchUp();
      return;
    }
  }

  async #replicate(heartbeat: boolean): Promise<void> {
    const { host, options, clock, replica, term, primaryId } = this.#d;
    const matchSeq = this.#matchSeq!;
    let entries: LogEntry[] = [];
    let primaryLastRead: number | null = null;
    let fromWal = false;
    const sentMs = clock.now();
    const behindAtSend = host.primaryLastSeq - matchSeq;
    if (!heartbeat) {
      const from = matchSeq + 1;
      const buffered = from <= host.primaryLastSeq ? host.buffer.range(from, options.maxBatchEntries, options.maxBatchBytes) : [];
      const source = from <= host.primaryLastSeq
        ? batchSource({
          buffered: buffered.length, bufferLowestSeq: host.buffer.lowestSeq(), nextSeq: from,
          writesInFlight: host.writesInFlight, holeSinceMs: this.#holeSinceMs, nowMs: clock.now(), holeWaitMs: options.holeWaitMs,
        })
        : { kind: 'wal' as const }; // only a suffix to truncate: learn where the primary's log ends
      if (source.kind === 'wait') {
        this.#holeSinceMs ??= clock.now();
        await this.#wait(source.untilMs);
        return;
      }
      this.#holeSinceMs = null;
      if (source.kind === 'buffer') entries = buffered;
      else {
        const wal = await this.#getPrimaryWal(matchSeq, options.maxBatchEntries, false);
        if (!wal) return;
        entries = wal.entries.filter((e) => e.seq > matchSeq);
        primaryLastRead = wal.lastSeq;
        fromWal = true;
        if (entries.length === 0 && this.#replicaLastSeq <= matchSeq) {
          // The primary has nothing past our match point after all: nothing to send yet.
          throw new TesseraError('internal', `primary WAL ends at ${wal.lastSeq}, expected more than ${matchSeq}`);
        }
      }
    }
    const last = entries.at(-1);
    const endSeq = last?.seq ?? matchSeq;
    const endTerm = last?.term ?? this.#matchTerm;
    const truncate = shouldTruncate(endSeq, endTerm, term, primaryLastRead);
    // Never tell a replica a commit point beyond what it provably shares with the primary.
    const commitSeq = Math.min(host.commitSeq, endSeq);
    const req: ReplicateRequest = {
      term, primaryId, commitSeq, prevSeq: matchSeq, prevTerm: this.#matchTerm, truncate, entries, primaryLastSeq: Math.max(host.primaryLastSeq, endSeq),
    };
    const heard = host.primaryHeardMsAgo();
    if (heard !== undefined) req.primaryHeardMsAgo = heard;
    this.#askedAtMs = clock.now();
    const res = await replica.json<ReplicateResponse>({
      method: 'POST', path: `${REPLICATION_PREFIX}/replicate`, body: req, timeoutMs: options.requestTimeoutMs,
    });
    if (this.#stopped) return;
    this.#reachable = true;
    this.#noteJoined(res.body.joined);
    this.#confirm(this.#askedAtMs);
    this.#gapsInARow = 0;
    this.#lastSentMs = clock.now();
    this.#sentCommitSeq = Math.max(this.#sentCommitSeq, commitSeq);
    this.#replicaLastSeq = res.body.lastSeq;
    if ((fromWal || this.#catchUp) && entries.length > 0) this.#d.metrics?.catchUpEntries.inc({ shard: String(host.shardId), node: this.nodeId }, entries.length);
    if (entries.length > 0) this.#d.metrics?.relayBatch.observe({ shard: String(host.shardId) }, entries.length);
    if (res.body.rolledBack > 0) this.#d.metrics?.rollbacks.inc({ shard: String(host.shardId), node: this.nodeId }, res.body.rolledBack);
    this.#advance(endSeq, endTerm);
    // Judged once the replica answered: a dead replica is not "catching up".
    if (!this.#catchUp && behindAtSend > CATCH_UP_LOG_MIN_ENTRIES) this.#startCatchUp('behind', { atMs: sentMs, fromSeq: matchSeq, targetSeq: matchSeq + behindAtSend });
    this.#noteCatchUp();
    if (truncate && res.body.lastSeq > endSeq && res.body.lastTerm === term) {
      // It kept entries of our own term past the batch: another router relayed our
      // primary's log ahead of us. Only this term's primary writes this term's
      // entries, and a replica appends only onto a matching prefix, so its log up to
      // its lastSeq is our primary's: a match point, not a disagreement.
      this.#advance(res.body.lastSeq, term);
      return;
    }
    if (truncate && res.body.lastSeq > endSeq) {
      // The replica kept entries after a truncating batch: its log disagrees with our picture of it.
      this.#becomeProbe();
      throw new TesseraError('internal', `node ${this.nodeId} kept entries after ${endSeq} despite truncate`);
    }
  }

  #startCatchUp(reason: string, at?: { atMs: number; fromSeq: number; targetSeq: number }): void {
    if (this.#catchUp || this.#stopped) return;
    const { host, log, clock } = this.#d;
    this.#catchUp = {
      startedMs: at?.atMs ?? clock.now(), fromSeq: at?.fromSeq ?? this.matchSeq, targetSeq: at?.targetSeq ?? host.primaryLastSeq, reason, snapshot: false,
    };
    log.info({
      shard: host.shardId, node: this.nodeId, reason, matchSeq: this.#catchUp.fromSeq, replicaLastSeq: this.#replicaLastSeq, primaryLastSeq: this.#catchUp.targetSeq,
    }, 'replica catching up');
  }

  /** After a probe, batch or snapshot: a catch-up ends once its target is reached. */
  #noteCatchUp(): void {
    const c = this.#catchUp;
    if (!c || this.#matchSeq === null || this.#mode !== 'replicate' || this.#matchSeq < c.targetSeq) return;
    const { host, log, clock } = this.#d;
    this.#catchUp = null;
    log.info({
      shard: host.shardId, node: this.nodeId, reason: c.reason, fromSeq: c.fromSeq, matchSeq: this.matchSeq, snapshot: c.snapshot,
      ms: Math.round(clock.now() - c.startedMs),
    }, 'replica caught up');
  }

  async #snapshot(): Promise<void> {
    const { primary, replica, term, primaryId, options, host, log } = this.#d;
    const labels = { shard: String(host.shardId), node: this.nodeId };
    this.#startCatchUp('snapshot');
    this.#catchUp!.snapshot = true;
    log.info({ shard: host.shardId, node: this.nodeId }, 'installing snapshot on replica');
    const signal = AbortSignal.timeout(options.snapshotTimeoutMs);
    try {
      // The install is conditional on the copy's log still ending where it does now: another
      // router may be rebuilding it too, and an older snapshot must not undo a newer one.
      const before = (await replica.json<NodeState>({ path: `${REPLICATION_PREFIX}/state`, timeoutMs: options.requestTimeoutMs })).body;
      if (before.term > term) {
        host.onHigherTerm(before.term);
        throw new TesseraError('stale_term', `node ${this.nodeId} is at term ${before.term}`, { term: before.term });
      }
      // Piped, never buffered whole: the primary's NDJSON goes straight into the replica's install request.
      const src = await primary.pool.request({
        method: 'GET', path: `${REPLICATION_PREFIX}/snapshot`, headers: { authorization: primary.authorization },
        signal, headersTimeout: options.requestTimeoutMs, bodyTimeout: options.snapshotTimeoutMs,
      });
      if (src.statusCode !== 200) {
        const text = await src.body.text();
        throw fromBody(safeJson(text), src.statusCode);
      }
      const q = `term=${term}&primaryId=${encodeURIComponent(primaryId)}&ifLastSeq=${before.lastSeq}&ifLastTerm=${before.lastTerm}`;
      const res = await replica.pool.request({
        method: 'POST', path: `${REPLICATION_PREFIX}/snapshot?${q}`,
        headers: { authorization: replica.authorization, 'content-type': 'application/x-ndjson' },
        body: src.body, signal, headersTimeout: options.snapshotTimeoutMs, bodyTimeout: options.snapshotTimeoutMs,
      });
      const text = await res.body.text();
      if (res.statusCode >= 400) throw fromBody(safeJson(text), res.statusCode);
      this.#reachable = true;
      this.#d.metrics?.snapshots.inc({ ...labels, outcome: 'ok' });
      // The install answers the replica's state: an empty log based at the snapshot's (seq, term),
      // which is a point of the primary's own log — the new match point.
      const st = safeJson(text) as Partial<NodeState>;
      log.info({ shard: host.shardId, node: this.nodeId, seq: st.lastSeq }, 'snapshot installed');
      if (typeof st.lastSeq === 'number' && typeof st.lastTerm === 'number' && st.lastSeq === (st.oldestSeq ?? 0) - 1) {
        this.#replicaLastSeq = st.lastSeq;
        this.#becomeReplicate(st.lastSeq, st.lastTerm);
        this.#noteCatchUp();
      } else {
        this.#becomeProbe();
      }
    } catch (err) {
      this.#d.metrics?.snapshots.inc({ ...labels, outcome: 'failed' });
      if (err instanceof TesseraError) throw err;
      throw new UnreachableError(`${primary.url} -> ${replica.url}`, err, signal.aborted);
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { error: 'internal', message: text.slice(0, 200) };
  }
}
