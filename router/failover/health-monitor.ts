import type { Clock } from '../../src/core/clock.ts';
import type { NodeState } from '../../src/core/protocol.ts';

// Polls every node's state on a fixed interval (DESIGN §5.4). It only
// observes: what a missing answer means (Offline after failoverTimeoutMs) is
// decided by classifyHealth from the observations, so one slow poll never
// turns into a failover by itself.

export interface HealthMonitorDeps {
  nodes: readonly { id: string; url: string }[];
  intervalMs: number;
  clock: Clock;
  /** Fetches the node's state; should abort its request when `signal` fires. */
  poll(nodeId: string, signal: AbortSignal): Promise<NodeState>;
  /** One call per poll: the state, or null when the poll failed or missed its deadline. */
  onObservation(nodeId: string, state: NodeState | null, nowMs: number): void;
  /** Per-poll deadline; default 80% of the interval (it must be below it). */
  pollTimeoutMs?: number;
}

export class HealthMonitor {
  readonly #deps: HealthMonitorDeps;
  readonly #pollTimeoutMs: number;
  /** Polls whose promise has not settled yet, by node: the next poll of that node waits. */
  readonly #inFlight = new Map<string, AbortController>();
  #timer: unknown = null;
  #running = false;
  #stopped = false;

  constructor(deps: HealthMonitorDeps) {
    const pollTimeoutMs = deps.pollTimeoutMs ?? Math.floor(deps.intervalMs * 0.8);
    if (!(pollTimeoutMs > 0 && pollTimeoutMs < deps.intervalMs)) {
      throw new Error(`HealthMonitor: pollTimeoutMs ${pollTimeoutMs} must be in (0, intervalMs ${deps.intervalMs})`);
    }
    this.#deps = deps;
    this.#pollTimeoutMs = pollTimeoutMs;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopped = false;
    this.#schedule(0);
  }

  stop(): void {
    this.#running = false;
    this.#stopped = true;
    if (this.#timer !== null) this.#deps.clock.clearTimeout(this.#timer);
    this.#timer = null;
    for (const ctl of this.#inFlight.values()) ctl.abort();
  }

  /**
   * Polls every node that has no poll in flight, now. Resolves when each of
   * those polls has reported (answer, failure or deadline). Tests use it;
   * the router may call it to refresh a view at once (e.g. after an election).
   */
  async tickNow(): Promise<void> {
    await Promise.all(this.#deps.nodes.filter((n) => !this.#inFlight.has(n.id)).map((n) => this.#pollOne(n.id)));
  }

  #schedule(delayMs: number): void {
    this.#timer = this.#deps.clock.setTimeout(() => {
      this.#timer = null;
      if (!this.#running) return;
      // Fire and forget: the next tick is due after intervalMs whether or not
      // this one's polls are done (a hung node must not delay the others).
      void this.tickNow();
      this.#schedule(this.#deps.intervalMs);
    }, delayMs);
  }

  #pollOne(nodeId: string): Promise<void> {
    const { clock } = this.#deps;
    const ctl = new AbortController();
    this.#inFlight.set(nodeId, ctl);
    return new Promise<void>((resolve) => {
      let reported = false;
      const report = (state: NodeState | null) => {
        if (reported) return;
        reported = true;
        clock.clearTimeout(deadline);
        // After stop() nobody listens. An answer that comes after its
        // deadline is dropped: the deadline already reported null.
        if (!this.#stopped) this.#deps.onObservation(nodeId, state, clock.now());
        resolve();
      };
      const deadline = clock.setTimeout(() => {
        ctl.abort();
        report(null);
      }, this.#pollTimeoutMs);
      let answer: Promise<NodeState>;
      try {
        answer = this.#deps.poll(nodeId, ctl.signal);
      } catch (err) {
        answer = Promise.reject(err);
      }
      answer.then(
        (state) => report(state),
        () => report(null),
      ).finally(() => {
        // Only a settled poll frees the node: a poll that ignores its abort
        // signal can never overlap the next one.
        if (this.#inFlight.get(nodeId) === ctl) this.#inFlight.delete(nodeId);
      });
    });
  }
}
