import type { NodeState, PromoteRequest, PromoteResponse, VoteRequest, VoteResponse } from '../../src/core/protocol.ts';
import { TesseraError } from '../../src/core/errors.ts';
import { ManualClock } from '../harness/manual-clock.ts';
import type { Rng } from '../../src/core/rng.ts';
import { newNode, promoteRule, stateOf, voteRule, type ModelNode } from './sim-model.ts';

// A shard of in-memory nodes behind a fake network (STYLE §9 "simulation"):
// messages take time on a ManualClock, and any link from a router to a node
// can drop requests (never answered: the caller's deadline decides) or drop
// replies (the node acted, the caller never hears). A crashed node refuses
// connections. The nodes apply the rules of shard/DESIGN.md (sim-model.ts).

export type LinkMode = 'ok' | 'drop' | 'drop_reply';

export class SimCluster {
  readonly clock: ManualClock;
  readonly nodes = new Map<string, ModelNode>();
  readonly ids: string[];
  private readonly links = new Map<string, LinkMode>();
  private readonly down = new Set<string>();
  /** Called as a request reaches a node, before it acts (to inject races). */
  beforeDeliver: (to: string, kind: string) => void = () => {};
  /** Count of requests sent, by kind. */
  readonly sent: Record<string, number> = {};

  /** Every vote granted: [term, voter, candidate]. Survives the voter moving to a later term. */
  readonly grants: [number, string, string][] = [];
  private readonly vote: (n: ModelNode, req: VoteRequest) => VoteResponse;

  constructor(ids: string[], opts: { clock?: ManualClock; rand?: Rng; maxDelayMs?: number; vote?: (n: ModelNode, req: VoteRequest) => VoteResponse } = {}) {
    this.clock = opts.clock ?? new ManualClock(0);
    this.vote = opts.vote ?? voteRule;
    this.ids = ids;
    for (const id of ids) this.nodes.set(id, newNode(id, ids[0]!));
    this.rand = opts.rand;
    this.maxDelayMs = opts.maxDelayMs ?? 0;
  }

  private readonly rand: Rng | undefined;
  private readonly maxDelayMs: number;

  node(id: string): ModelNode {
    return this.nodes.get(id)!;
  }

  setLink(router: string, node: string, mode: LinkMode): void {
    this.links.set(`${router}>${node}`, mode);
  }

  linkMode(router: string, node: string): LinkMode {
    return this.links.get(`${router}>${node}`) ?? 'ok';
  }

  crash(id: string): void { this.down.add(id); }
  recover(id: string): void { this.down.delete(id); }
  isDown(id: string): boolean { return this.down.has(id); }
  heal(): void { this.links.clear(); this.down.clear(); }

  private delay(): number {
    return this.rand ? this.rand.int(this.maxDelayMs + 1) : 0;
  }

  send<T>(router: string, to: string, kind: string, act: (n: ModelNode) => T): Promise<T> {
    this.sent[kind] = (this.sent[kind] ?? 0) + 1;
    const mode = () => this.linkMode(router, to);
    return new Promise<T>((resolve, reject) => {
      this.clock.setTimeout(() => {
        if (this.down.has(to)) return void reject(new Error(`connect ECONNREFUSED ${to}`));
        if (mode() === 'drop') return; // lost on the way: never answered
        this.beforeDeliver(to, kind);
        let out: { ok: true; v: T } | { ok: false; e: unknown };
        try {
          out = { ok: true, v: act(this.node(to)) };
        } catch (e) {
          out = { ok: false, e };
        }
        if (mode() !== 'ok') return; // the node acted; the reply is lost
        this.clock.setTimeout(() => (out.ok ? resolve(out.v) : reject(out.e)), this.delay());
      }, this.delay());
    });
  }

  /** The coordinator's transport as seen from one router. */
  transport(router: string) {
    return {
      fetchState: (id: string, _timeoutMs: number): Promise<NodeState> => this.send(router, id, 'state', stateOf),
      vote: (id: string, req: VoteRequest): Promise<VoteResponse> => this.send(router, id, 'vote', (n) => {
        const r = this.vote(n, req);
        if (r.granted) this.grants.push([req.term, n.id, req.candidateId]);
        return r;
      }),
      promote: (id: string, req: PromoteRequest): Promise<PromoteResponse> => this.send(router, id, 'promote', (n) => {
        const r = promoteRule(n, req.term);
        if (!r.ok) throw new TesseraError('stale_term', `cannot promote ${id} in term ${req.term}`, { term: r.term });
        return r;
      }),
    };
  }
}

/** Advances the clock in small steps until `p` settles; fails past `maxMs` of simulated time. */
export async function runUntilSettled<T>(clock: ManualClock, p: Promise<T>, maxMs = 60_000, stepMs = 5): Promise<T> {
  let settled = false;
  const watched = p.finally(() => { settled = true; });
  for (let t = 0; t <= maxMs && !settled; t += stepMs) await clock.advance(stepMs);
  if (!settled) throw new Error(`still pending after ${maxMs} ms of simulated time`);
  return watched;
}
