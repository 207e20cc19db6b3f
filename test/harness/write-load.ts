import type { AckedWrite } from './convergence.ts';

// Continuous writers for the failover tests: each write creates a fresh id
// (so an acknowledged write can only be superseded by nothing), every 2xx is
// recorded with its rev and data, and 503s and timeouts count as
// unacknowledged. Bounded in count and in time.

export interface TimedAck extends AckedWrite {
  sentAt: number;
  ackedAt: number;
  router: string;
}

export interface WriteLoadOptions {
  routerUrls: readonly string[];
  db: string;
  writers: number;
  /** Prefix of every id, unique per load. */
  prefix: string;
  /** Client-side deadline of one request (a generous margin over writeTimeoutMs + 1 s). */
  requestTimeoutMs: number;
  maxWrites?: number;
  maxDurationMs?: number;
}

export class WriteLoad {
  readonly acked: TimedAck[] = [];
  /** `status error` (or `timeout` / `network`) → count, for every answer that was not a 2xx. */
  readonly failures = new Map<string, number>();
  /** Answers that are neither 2xx nor an allowed unavailability (503 no_primary / quorum_not_met, timeouts). */
  readonly unexpected: string[] = [];
  /** Every write that was not acknowledged: through which router, when it was sent and answered. */
  readonly failed: Array<{ router: string; sentAt: number; at: number }> = [];
  /** Ids of writes answered 503 with `outcome: "not_applied"`: each must never become visible. */
  readonly notApplied: string[] = [];
  /** Longest a client request took (ms): DESIGN §4 bounds it by writeTimeoutMs + 1 s. */
  maxLatencyMs = 0;
  sent = 0;
  readonly #o: WriteLoadOptions;
  #stopAt = 0;
  #running: Promise<void> | null = null;

  constructor(o: WriteLoadOptions) {
    this.#o = o;
  }

  start(): this {
    this.#stopAt = Date.now() + (this.#o.maxDurationMs ?? 60_000);
    this.#running = Promise.all(Array.from({ length: this.#o.writers }, (_, w) => this.#writer(w))).then(() => undefined);
    return this;
  }

  /** Asks the writers to stop and waits for the requests in flight. */
  async stop(): Promise<void> {
    this.#stopAt = 0;
    await this.#running;
  }

  /** When the first write sent at or after `t` was acknowledged, or null. */
  firstAckSentAfter(t: number): number | null {
    let first: number | null = null;
    for (const a of this.acked) if (a.sentAt >= t && (first === null || a.ackedAt < first)) first = a.ackedAt;
    return first;
  }

  ackedSentAfter(t: number): number {
    return this.acked.filter((a) => a.sentAt >= t).length;
  }

  summary(): string {
    return `sent ${this.sent}, acked ${this.acked.length}, failures ${JSON.stringify(Object.fromEntries(this.failures))}, max latency ${this.maxLatencyMs} ms`;
  }

  async #writer(w: number): Promise<void> {
    const { routerUrls, db, prefix, requestTimeoutMs } = this.#o;
    const max = this.#o.maxWrites ?? 5000;
    const router = routerUrls[w % routerUrls.length]!;
    for (let i = 0; Date.now() < this.#stopAt && this.sent < max; i++) {
      this.sent++;
      const id = `${prefix}${w}-${i}`;
      const data = { w, i, p: prefix };
      const sentAt = Date.now();
      let outcome: string;
      try {
        const res = await fetch(`${router}/v1/db/${db}/docs/${id}`, {
          method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data }),
          signal: AbortSignal.timeout(requestTimeoutMs),
        });
        const body = await res.json() as { rev?: string; error?: string; outcome?: string };
        this.maxLatencyMs = Math.max(this.maxLatencyMs, Date.now() - sentAt);
        if (res.status === 201 || res.status === 200) {
          this.acked.push({ id, rev: body.rev!, data, sentAt, ackedAt: Date.now(), router });
          continue;
        }
        outcome = `${res.status} ${body.error ?? ''}`;
        if (body.outcome === 'not_applied') this.notApplied.push(id);
        if (!(res.status === 503 && (body.error === 'no_primary' || body.error === 'quorum_not_met'))) this.unexpected.push(`${id}: ${outcome}`);
      } catch (err) {
        outcome = (err as Error).name === 'TimeoutError' ? 'timeout' : 'network';
        this.maxLatencyMs = Math.max(this.maxLatencyMs, Date.now() - sentAt);
        // A router that stays up must answer every request (DESIGN §4); a dropped one is a finding.
        this.unexpected.push(`${id}: ${outcome} ${(err as Error).message}`);
      }
      this.failures.set(outcome, (this.failures.get(outcome) ?? 0) + 1);
      this.failed.push({ router, sentAt, at: Date.now() });
      // An unavailable shard answers at once: do not spin on 503s.
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
