import type { Clock } from '../../src/core/clock.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { RouterMetrics } from '../../src/core/metrics.ts';
import type { Shards } from '../replication/shards.ts';
import { verifyShard, type VerifyReport } from './shard-verify.ts';

// The background anti-entropy pass (replication.antiEntropyIntervalMs, off by
// default): every interval, one verify per shard, one shard after the other
// (each reads every copy of a shard once). It only reports — the gauge
// tessera_antientropy_divergent_documents and a WARN line naming the
// documents — and never repairs: which copy is right is an operator's call
// when the primary itself may be the damaged one (router/VERIFY.md).

export interface AntiEntropyDeps {
  shards: Shards;
  clock: Clock;
  log: Logger;
  metrics?: RouterMetrics;
  intervalMs: number;
  writeTimeoutMs: number;
}

export class AntiEntropy {
  readonly #d: AntiEntropyDeps;
  #timer: unknown = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  /** The last report per shard (tests and /ui read it). */
  readonly last = new Map<number, VerifyReport>();

  constructor(deps: AntiEntropyDeps) {
    this.#d = deps;
  }

  start(): void {
    if (this.#d.intervalMs <= 0) return;
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) this.#d.clock.clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#d.clock.setTimeout(() => {
      this.#running = this.runOnce().finally(() => {
        this.#running = null;
        this.#schedule();
      });
    }, this.#d.intervalMs);
  }

  /** One pass over every shard. */
  async runOnce(): Promise<void> {
    const { shards, log, metrics } = this.#d;
    for (const rt of shards.list) {
      if (this.#stopped) return;
      const shard = String(rt.shardId);
      try {
        const r = await verifyShard(this.#d, rt, { timeoutMs: Math.max(5_000, this.#d.intervalMs) });
        this.last.set(rt.shardId, r);
        const outcome = r.divergent.length > 0 || r.dbs.length > 0 ? 'divergent' : r.complete ? 'consistent' : 'incomplete';
        metrics?.antiEntropyRuns.inc({ shard, outcome });
        metrics?.divergentDocs.set({ shard }, r.divergent.length);
        if (outcome === 'divergent') {
          log.warn({
            shard: rt.shardId, seq: r.seq, documents: r.divergent.length, dbs: r.dbs.map((d) => d.db),
            first: r.divergent.slice(0, 5).map((d) => `${d.db}/${d.id}: ${d.copies.filter((c) => !c.same).map((c) => `${c.node}=${c.rev ?? 'none'}`).join(' ')}`),
          }, 'anti-entropy: copies differ (tessera verify --shard N names them; --repair makes them equal)');
        } else {
          log.debug({ shard: rt.shardId, seq: r.seq, outcome, ms: r.ms }, 'anti-entropy pass');
        }
      } catch (err) {
        metrics?.antiEntropyRuns.inc({ shard, outcome: 'failed' });
        log.debug({ shard: rt.shardId, err: (err as Error).message }, 'anti-entropy pass failed');
      }
    }
  }
}
