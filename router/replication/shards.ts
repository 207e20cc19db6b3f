import type { Clock } from '../../src/core/clock.ts';
import type { Config } from '../../src/core/config/index.ts';
import { majority } from '../../src/rules/index.ts';
import { shardFor } from '../../src/core/hash.ts';
import { NodeClient } from '../../src/core/http/client.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { RouterMetrics } from '../../src/core/metrics.ts';
import type { NodeState } from '../../src/core/protocol.ts';
import { ShardRuntime, type ShardNode } from './shard-runtime.ts';
import type { StreamOptions } from './replica-stream.ts';

// The router's whole picture of the cluster: one ShardRuntime per shard and
// one keep-alive client per node. Built from the config; filled from the
// nodes' states at start-up.

export interface ShardsDeps {
  config: Readonly<Config>;
  clock: Clock;
  log: Logger;
  metrics?: RouterMetrics;
  /** The cluster CA the node clients verify HTTPS nodes against (DESIGN §3 `tls`). */
  ca?: Buffer;
  /** Overrides for tests (e.g. a node client pointing at a fake). */
  clientFor?: (node: { id: string; url: string }) => NodeClient;
  streamOptions?: Partial<StreamOptions>;
}

export class Shards {
  readonly list: ShardRuntime[];
  readonly #byNode = new Map<string, ShardRuntime>();
  readonly #clients: NodeClient[] = [];
  readonly #d: ShardsDeps;

  constructor(deps: ShardsDeps) {
    this.#d = deps;
    const { config, clock, log, metrics } = deps;
    this.list = config.shards.map((shard) => {
      const nodes: ShardNode[] = shard.nodes.map((n) => {
        const client = deps.clientFor?.(n) ?? new NodeClient(n.url, config.cluster.secret, { connections: 128, ...(deps.ca ? { ca: deps.ca } : {}) });
        this.#clients.push(client);
        return { id: n.id, url: n.url, client };
      });
      const rt = new ShardRuntime({
        shardId: shard.id, nodes, replication: config.replication, clock, log, metrics, streamOptions: deps.streamOptions,
      });
      for (const n of nodes) this.#byNode.set(n.id, rt);
      return rt;
    });
  }

  get count(): number {
    return this.list.length;
  }

  /** The shard that owns document `id`. */
  forDoc(id: string): ShardRuntime {
    return this.list[shardFor(id, this.list.length)]!;
  }

  /** The shard a node belongs to. */
  forNode(nodeId: string): ShardRuntime | undefined {
    return this.#byNode.get(nodeId);
  }

  /** Every node with its client (for the health poller). */
  nodes(): Array<{ id: string; client: NodeClient }> {
    return this.list.flatMap((rt) => [...rt.nodes.values()].map((n) => ({ id: n.id, client: n.client })));
  }

  /** The health monitor's hook: a node's state, or null for no answer. */
  observe(nodeId: string, state: NodeState | null, nowMs: number): void {
    this.#byNode.get(nodeId)?.observe(nodeId, state, nowMs);
  }

  /**
   * Start-up: ask every node until each shard has a majority answering (a view
   * built from a minority could miss a newer term) or `deadlineMs` passes;
   * then run with what we have — /readyz tells operators the rest.
   */
  async discover(deadlineMs: number, retryMs = 100): Promise<boolean> {
    const { clock, log } = this.#d;
    const pending = new Set(this.list);
    while (pending.size > 0) {
      const left = deadlineMs - clock.now();
      await Promise.all([...pending].map((rt) => rt.refresh(Math.min(1000, Math.max(50, left)))));
      for (const rt of pending) {
        if (rt.view.reachable(clock.now(), 60_000).length >= majority(rt.view.nodeIds.length)) pending.delete(rt);
      }
      if (pending.size === 0) break;
      if (clock.now() + retryMs >= deadlineMs) {
        log.warn({ shards: [...pending].map((rt) => rt.shardId) }, 'start-up: some shards have no majority answering yet');
        return false;
      }
      await new Promise<void>((resolve) => clock.setTimeout(resolve, retryMs));
    }
    return true;
  }

  async stop(): Promise<void> {
    await Promise.all(this.list.map((rt) => rt.stop()));
    await Promise.all(this.#clients.map((c) => c.close().catch(() => c.destroy())));
  }
}
