import type { AckedWrite as Acked } from './convergence.ts';

// Concurrent writers for failover tests: every write goes through the router
// with a fresh id, and every acknowledged one (2xx) is recorded with its rev
// and body, so a test can check afterwards (convergence.ts) that nothing
// acknowledged was lost. 503s and timeouts are unacknowledged: they may or
// may not have taken effect. Unlike write-load.ts it keeps every attempt with
// its timing, for tests that check what each write sent during a fault got.
// Loops are bounded in count and in time.

export interface AckedWrite extends Acked {
  seq: number;
  /** When the write was sent and when its 2xx came back (Date.now()). */
  sentAt: number;
  ackedAt: number;
}

export interface WriteAttempt {
  id: string;
  status: number;
  /** Error code of a non-2xx answer, 'timeout' / 'network' when none came. */
  error: string | null;
  sentAt: number;
  endedAt: number;
}

export interface WritersOptions {
  routerUrl: string;
  db: string;
  writers: number;
  /** Id prefix (ids are `<prefix>w<writer>-<n>`). */
  prefix: string;
  /** Hard bounds of the whole run. */
  maxWrites: number;
  maxMs: number;
  /** Client-side deadline of one request (beyond the router's own writeTimeoutMs + 1 s). */
  requestTimeoutMs: number;
}

/** The answers a write may get while a shard has no primary or no quorum: never acknowledged, never a finding. */
const ALLOWED_FAILURES = new Set(['no_primary', 'quorum_not_met']);

export class AckWriters {
  readonly acked: AckedWrite[] = [];
  readonly attempts: WriteAttempt[] = [];
  readonly #o: WritersOptions;
  #n = 0;
  #stopped = false;
  #running: Promise<void> | null = null;

  constructor(opts: WritersOptions) {
    this.#o = opts;
  }

  get count(): number {
    return this.#n;
  }

  start(): this {
    const end = Date.now() + this.#o.maxMs;
    this.#running ??= Promise.all(Array.from({ length: this.#o.writers }, (_, w) => this.#loop(w, end))).then(() => undefined);
    return this;
  }

  /** Stops after the requests in flight; resolves when every loop has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  /** Acknowledged writes that were sent at or after `t`. */
  ackedSince(t: number): AckedWrite[] {
    return this.acked.filter((a) => a.sentAt >= t);
  }

  /** Attempts sent at or after `t` (e.g. once a fault is in place). */
  attemptsSince(t: number): WriteAttempt[] {
    return this.attempts.filter((a) => a.sentAt >= t);
  }

  /**
   * Failed attempts that no fault explains: anything but a 2xx or a 503
   * no_primary / quorum_not_met (a 500, another 4xx, a dropped connection, a
   * client-side timeout), unless the attempt overlaps one of `faults` (e.g.
   * the router's own restart, when connections are refused). A test asserts
   * it empty: "unacknowledged" must not hide a crash or a hang.
   */
  unexpected(...faults: ReadonlyArray<{ from: number; to: number }>): WriteAttempt[] {
    return this.attempts.filter((a) => a.error !== null && !ALLOWED_FAILURES.has(a.error)
      && !faults.some((f) => a.endedAt >= f.from && a.sentAt <= f.to));
  }

  async #loop(w: number, end: number): Promise<void> {
    const { routerUrl, db, prefix, maxWrites, requestTimeoutMs } = this.#o;
    while (!this.#stopped && Date.now() < end && this.#n < maxWrites) {
      const id = `${prefix}w${w}-${this.#n++}`;
      const data = { w, id, at: Date.now() };
      const sentAt = Date.now();
      let status = 0;
      let error: string | null = null;
      try {
        const res = await fetch(`${routerUrl}/v1/db/${db}/docs/${id}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ data }),
          signal: AbortSignal.timeout(requestTimeoutMs),
        });
        status = res.status;
        const body = await res.json() as { rev?: string; seq?: number; error?: string };
        if (status >= 200 && status < 300) {
          this.acked.push({ id, rev: body.rev!, data, seq: body.seq ?? 0, sentAt, ackedAt: Date.now() });
        } else {
          error = body.error ?? `http_${status}`;
        }
      } catch (err) {
        error = (err as Error).name === 'TimeoutError' ? 'timeout' : 'network';
      }
      this.attempts.push({ id, status, error, sentAt, endedAt: Date.now() });
      // An unavailable shard or router answers at once: do not spin on failures.
      if (error !== null) await new Promise((r) => setTimeout(r, 20));
    }
  }
}

