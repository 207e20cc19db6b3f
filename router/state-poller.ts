import type { Clock } from '../src/clock.ts';
import type { NodeClient } from '../src/http/client.ts';
import { REPLICATION_PREFIX, type NodeState } from '../src/protocol.ts';

// Keeps the shard views fresh by polling every node's state each interval.
// A stand-in with the same observation hook as the failover health monitor
// (router/health-monitor.ts), which replaces it once the coordinator is wired
// in. A node's poll never overlaps its previous one, and each poll's deadline
// is shorter than the interval.

export interface StatePollerDeps {
  nodes: ReadonlyArray<{ id: string; client: NodeClient }>;
  intervalMs: number;
  clock: Clock;
  onObservation(nodeId: string, state: NodeState | null, nowMs: number): void;
}

export class StatePoller {
  readonly #d: StatePollerDeps;
  readonly #busy = new Set<string>();
  #timer: unknown = null;
  #stopped = false;

  constructor(deps: StatePollerDeps) {
    this.#d = deps;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#d.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** One round now (tests, start-up). Resolves when every node answered or timed out. */
  async tick(): Promise<void> {
    const { clock, intervalMs, onObservation } = this.#d;
    await Promise.all(this.#d.nodes.map(async ({ id, client }) => {
      if (this.#busy.has(id)) return;
      this.#busy.add(id);
      try {
        const res = await client.json<NodeState>({ path: `${REPLICATION_PREFIX}/state`, timeoutMs: Math.max(20, Math.floor(intervalMs * 0.8)) });
        if (!this.#stopped) onObservation(id, res.body, clock.now());
      } catch {
        if (!this.#stopped) onObservation(id, null, clock.now());
      } finally {
        this.#busy.delete(id);
      }
    }));
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#d.clock.setTimeout(() => {
      void this.tick();
      this.#schedule();
    }, this.#d.intervalMs);
  }
}
