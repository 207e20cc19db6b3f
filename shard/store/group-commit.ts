// Group commit (shard/DESIGN.md): writes that arrive in the same turn of the
// event loop run inside ONE transaction, so they share one commit and one
// fsync. Each write is its own savepoint (the Store's methods nest), so a 409
// for one leaves the others in; each caller gets its own result or error.

export interface TransactionRunner {
  transaction<T>(fn: () => T): T;
}

export interface GroupCommitStats {
  transactions: number;
  writes: number;
}

interface Pending {
  fn: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  readonly #runner: TransactionRunner;
  readonly #enabled: boolean;
  readonly #onFlush: ((writes: number, seconds: number) => void) | undefined;
  #queue: Pending[] = [];
  #scheduled = false;
  #idle: Array<() => void> = [];
  readonly stats: GroupCommitStats = { transactions: 0, writes: 0 };

  constructor(runner: TransactionRunner, opts: { enabled?: boolean; onFlush?: (writes: number, seconds: number) => void } = {}) {
    this.#runner = runner;
    this.#enabled = opts.enabled ?? true;
    this.#onFlush = opts.onFlush;
  }

  /**
   * Queues `fn` and resolves with its own result. `fn` must be atomic on its
   * own (every Store write is: it runs in its own savepoint), so a failing
   * write leaves the rest of the batch in.
   */
  run<T>(fn: () => T): Promise<T> {
    if (!this.#enabled) {
      this.stats.transactions++;
      this.stats.writes++;
      try {
        return Promise.resolve(this.#runner.transaction(fn));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Resolves once every queued write has been committed (shutdown). */
  drain(): Promise<void> {
    if (this.#queue.length === 0 && !this.#scheduled) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #flush(): void {
    const batch = this.#queue;
    this.#queue = [];
    this.#scheduled = false;
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const started = performance.now();
    try {
      this.#runner.transaction(() => {
        for (const p of batch) {
          try {
            // Store writes are savepoints of their own: a failed one is undone alone.
            outcomes.push({ ok: true, value: p.fn() });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      // The commit itself failed: nothing of this batch is durable.
      for (const p of batch) p.reject(error);
      this.#settleIdle();
      return;
    }
    this.stats.transactions++;
    this.stats.writes += batch.length;
    this.#onFlush?.(batch.length, (performance.now() - started) / 1000);
    batch.forEach((p, i) => {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
    this.#settleIdle();
  }

  #settleIdle(): void {
    if (this.#queue.length > 0 || this.#scheduled) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const f of idle) f();
  }
}
