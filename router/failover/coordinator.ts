import type { Clock } from '../../src/core/clock.ts';
import type { JoinRequest, NodeState, PromoteRequest, PromoteResponse, VoteRequest, VoteResponse } from '../../src/core/protocol.ts';
import { planElection, planJoin, majority, tallyVotes, planSwitchover } from '../../src/rules/index.ts';

// Runs one shard's elections (DESIGN §5.4, router/FAILOVER.md): gather
// states, plan, vote, promote. The decisions are the pure functions of
// election.ts; this file only carries them out over injected transport and
// clock, and makes sure one router runs one election per shard at a time.

export type ElectionReason = 'primary_offline' | 'manual';
export type ElectionOutcome = 'elected' | 'adopted' | 'no_quorum' | 'lost' | 'target_behind' | 'target_unreachable';

export interface ElectionResult {
  outcome: ElectionOutcome;
  reason: ElectionReason;
  /** elected/adopted: the new term; lost: the highest term seen. */
  term?: number;
  primaryId?: string;
  startedAt: number;
  durationMs: number;
  /** States that answered, votes granted: what the outcome rests on. */
  answered?: number;
  granted?: number;
  detail?: string;
}

export interface ElectedInfo {
  lastSeq: number;
  granted: number;
  reason: ElectionReason;
}

/** The part of a pino logger the coordinator uses. */
export interface CoordinatorLog {
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface CoordinatorDeps {
  shardId: number;
  /** Node ids in config order. */
  nodes: readonly string[];
  failoverTimeoutMs: number;
  clock: Clock;
  log: CoordinatorLog;
  /** The router's current view of the shard. */
  view(): { term: number; primaryId: string | null };
  fetchState(nodeId: string, timeoutMs: number): Promise<NodeState>;
  vote(nodeId: string, req: VoteRequest): Promise<VoteResponse>;
  promote(nodeId: string, req: PromoteRequest): Promise<PromoteResponse>;
  onAdopt(term: number, primaryId: string): void;
  /** POST /v1/_replication/join to a fresh data dir (src/rules/join.ts); absent: this router joins nobody. */
  join?(nodeId: string, req: JoinRequest): Promise<NodeState>;
  onElected(term: number, primaryId: string, info: ElectedInfo): void;
  /**
   * Deadline of each step (states, votes, promote). Default a third of
   * failoverTimeoutMs, so detection plus election stays under the §6 target
   * of 2 × failoverTimeoutMs.
   */
  stepTimeoutMs?: number;
}

export class Coordinator {
  readonly #deps: CoordinatorDeps;
  readonly #joining = new Map<string, Promise<boolean>>();
  readonly #stepTimeoutMs: number;
  #current: Promise<ElectionResult> | null = null;
  #last: ElectionResult | null = null;

  constructor(deps: CoordinatorDeps) {
    this.#deps = deps;
    this.#stepTimeoutMs = deps.stepTimeoutMs ?? Math.max(50, Math.floor(deps.failoverTimeoutMs / 3));
  }

  /** Result of the last finished election (for shouldElect and status). */
  get lastResult(): ElectionResult | null {
    return this.#last;
  }

  /** When the last election ended: `lastElectionEndMs` for shouldElect. */
  get lastEndMs(): number | null {
    return this.#last === null ? null : this.#last.startedAt + this.#last.durationMs;
  }

  get running(): boolean {
    return this.#current !== null;
  }

  /**
   * One election at a time: a call while one runs gets that one's result
   * (even a manual call during an automatic election: the operator retries).
   */
  runElection(opts: { reason: ElectionReason; target?: string }): Promise<ElectionResult> {
    if (this.#current) return this.#current;
    const run = this.#elect(opts).then((result) => {
      this.#report(result);
      this.#last = result;
      return result;
    }).finally(() => {
      this.#current = null;
    });
    this.#current = run;
    return run;
  }

  async #elect(opts: { reason: ElectionReason; target?: string }): Promise<ElectionResult> {
    const { clock, nodes } = this.#deps;
    const startedAt = clock.now();
    const done = (r: Omit<ElectionResult, 'startedAt' | 'durationMs' | 'reason'>): ElectionResult =>
      ({ ...r, reason: opts.reason, startedAt, durationMs: clock.now() - startedAt });
    const needed = majority(nodes.length);

    // A majority is enough to elect safely; the rest get a short grace to
    // answer so the most complete log among them is not missed for nothing.
    const states = await gather(clock, nodes, (id) => this.#deps.fetchState(id, this.#stepTimeoutMs), {
      timeoutMs: this.#stepTimeoutMs,
      graceMs: Math.floor(this.#stepTimeoutMs / 5),
      enough: (got) => Object.values(got).filter((s) => s !== null).length >= needed,
    });
    const answered = Object.values(states).filter((s) => s !== null).length;
    const view = this.#deps.view();
    const plan = planElection({
      nodes, states, viewTerm: view.term, viewPrimaryId: view.primaryId,
      ...(opts.target !== undefined ? { target: opts.target } : {}),
      manual: opts.reason === 'manual',
    });
    switch (plan.kind) {
      case 'adopt':
        this.#deps.onAdopt(plan.term, plan.primaryId);
        return done({ outcome: 'adopted', term: plan.term, primaryId: plan.primaryId, answered });
      case 'no_quorum':
        return done({ outcome: 'no_quorum', answered, detail: `${plan.answered} of ${nodes.length} nodes answered, ${plan.needed} needed` });
      case 'target_behind':
        return done({ outcome: 'target_behind', answered, detail: `${plan.targetId} is behind ${plan.aheadId}` });
      case 'target_unreachable':
        return done({ outcome: 'target_unreachable', answered, detail: `${plan.targetId || 'no replica'} did not answer` });
      case 'elect':
        break;
    }

    // A planned switchover, or a primary that said it is gone, waives the voters' stickiness.
    const req: VoteRequest = {
      term: plan.term, candidateId: plan.candidateId, lastTerm: plan.lastTerm, lastSeq: plan.lastSeq, ...(plan.force ? { force: true } : {}),
    };
    const votes = await gather(clock, plan.voters, (id) => this.#deps.vote(id, req), {
      timeoutMs: this.#stepTimeoutMs,
      graceMs: 0,
      enough: (got) => {
        const t = tallyVotes(got, nodes, plan.term);
        return t.majority || t.superseded;
      },
    });
    const tally = tallyVotes(votes, nodes, plan.term);
    if (!tally.majority) {
      const detail = tally.superseded
        ? `a node is at term ${tally.highestTerm}: another election is ahead`
        : `${tally.granted} of ${tally.needed} votes needed for ${plan.candidateId}`;
      return done({ outcome: 'lost', term: tally.highestTerm, answered, granted: tally.granted, detail });
    }

    let promoted: PromoteResponse;
    try {
      promoted = await withDeadline(clock, this.#deps.promote(plan.candidateId, { term: plan.term }), this.#stepTimeoutMs);
    } catch (err) {
      // The node may have become primary anyway; the next health poll shows it
      // and the view adopts it. Electing again would only cost a term.
      return done({ outcome: 'lost', term: plan.term, answered, granted: tally.granted, detail: `promote failed: ${(err as Error).message}` });
    }
    this.#deps.onElected(plan.term, plan.candidateId, { lastSeq: promoted.lastSeq, granted: tally.granted, reason: opts.reason });
    return done({ outcome: 'elected', term: plan.term, primaryId: plan.candidateId, answered, granted: tally.granted });
  }

  /**
   * Joins a fresh data dir to the shard (shard/DESIGN.md "Incarnations"):
   * reads every node's state now (states from before the node came back say
   * nothing about what it may have voted), plans with planJoin, and sends the
   * join. One at a time per node; resolves true when a join was sent.
   */
  runJoin(nodeId: string): Promise<boolean> {
    const running = this.#joining.get(nodeId);
    if (running) return running;
    const run = this.#join(nodeId).finally(() => this.#joining.delete(nodeId));
    this.#joining.set(nodeId, run);
    return run;
  }

  async #join(nodeId: string): Promise<boolean> {
    const { clock, nodes, log } = this.#deps;
    const join = this.#deps.join;
    if (!join) return false;
    const states = await gather(clock, nodes, (id) => this.#deps.fetchState(id, this.#stepTimeoutMs), {
      timeoutMs: this.#stepTimeoutMs, graceMs: Math.floor(this.#stepTimeoutMs / 5),
      enough: (got) => nodes.every((id) => got[id] !== null),
    });
    if (states[nodeId]?.joined !== false) return false;
    const plan = planJoin({ nodeId, nodes, states, viewTerm: this.#deps.view().term });
    if (plan.kind === 'wait') {
      log.debug({ shard: this.#deps.shardId, node: nodeId, reason: plan.reason }, 'join waits');
      return false;
    }
    try {
      await withDeadline(clock, join(nodeId, { term: plan.term, role: plan.role, primaryId: plan.primaryId }), this.#stepTimeoutMs);
    } catch (err) {
      log.debug({ shard: this.#deps.shardId, node: nodeId, err: (err as Error).message }, 'join failed');
      return false;
    }
    log.info({ shard: this.#deps.shardId, node: nodeId, term: plan.term, role: plan.role, primaryId: plan.primaryId }, `joined ${nodeId} to shard ${this.#deps.shardId} at term ${plan.term} as ${plan.role}`);
    return true;
  }

  /**
   * Manual failover driver. Pauses writes to the shard (the router's job:
   * `pauseWrites` resolves once in-flight writes have settled and returns the
   * release), polls states until the target holds everything the primary
   * holds, then elects it. Writes resume in every case.
   */
  async switchover(opts: {
    target?: string;
    pauseWrites(): Promise<() => void>;
    catchUpTimeoutMs: number;
    pollMs: number;
  }): Promise<ElectionResult> {
    const { clock, nodes } = this.#deps;
    const startedAt = clock.now();
    const fail = (outcome: ElectionOutcome, detail: string): ElectionResult =>
      ({ outcome, reason: 'manual', startedAt, durationMs: clock.now() - startedAt, detail });
    const release = await opts.pauseWrites();
    try {
      for (;;) {
        const states = await gather(clock, nodes, (id) => this.#deps.fetchState(id, this.#stepTimeoutMs), {
          timeoutMs: this.#stepTimeoutMs, graceMs: this.#stepTimeoutMs, enough: () => false,
        });
        const view = this.#deps.view();
        const plan = planSwitchover({ nodes, states, primaryId: view.primaryId, ...(opts.target !== undefined ? { target: opts.target } : {}) });
        if (plan.kind === 'ready') return await this.runElection({ reason: 'manual', target: plan.targetId });
        if (plan.kind === 'refuse') {
          if (plan.reason === 'target_is_primary') {
            return { ...fail('adopted', 'the target is already primary'), term: view.term, primaryId: plan.targetId };
          }
          return fail('target_unreachable', plan.reason === 'no_replica' ? 'no replica answered' : `${plan.targetId} did not answer`);
        }
        if (clock.now() - startedAt >= opts.catchUpTimeoutMs) {
          return fail('target_behind', `${plan.targetId} still ${plan.behind} entries behind after ${opts.catchUpTimeoutMs} ms`);
        }
        await new Promise<void>((resolve) => clock.setTimeout(resolve, opts.pollMs));
      }
    } finally {
      release();
    }
  }

  /**
   * One info line per election; a no_quorum or lost repeated while a
   * majority stays unreachable goes to debug, so an outage does not flood
   * the log at the health interval.
   */
  #report(r: ElectionResult): void {
    const fields = { shard: this.#deps.shardId, ...r };
    const msg = r.primaryId !== undefined
      ? `election ${r.outcome}: ${r.primaryId} is primary of shard ${this.#deps.shardId} in term ${r.term}`
      : `election ${r.outcome} for shard ${this.#deps.shardId}${r.detail ? `: ${r.detail}` : ''}`;
    const repeat = this.#last !== null && this.#last.outcome === r.outcome && r.outcome !== 'elected' && r.outcome !== 'adopted';
    if (repeat) this.#deps.log.debug(fields, msg);
    else this.#deps.log.info(fields, msg);
  }
}

/**
 * Calls `call` for every id in parallel; resolves with every answer (null for
 * a failure or no answer yet) when all have settled, when `timeoutMs` has
 * passed, or `graceMs` after `enough` first holds.
 */
function gather<T>(
  clock: Clock,
  ids: readonly string[],
  call: (id: string) => Promise<T>,
  opts: { timeoutMs: number; graceMs: number; enough: (got: Record<string, T | null>) => boolean },
): Promise<Record<string, T | null>> {
  return new Promise((resolve) => {
    const got: Record<string, T | null> = Object.fromEntries(ids.map((id) => [id, null]));
    let pending = ids.length;
    let finished = false;
    let grace: unknown = null;
    const finish = () => {
      if (finished) return;
      finished = true;
      clock.clearTimeout(timeout);
      if (grace !== null) clock.clearTimeout(grace);
      resolve({ ...got });
    };
    const timeout = clock.setTimeout(finish, opts.timeoutMs);
    const settled = () => {
      pending -= 1;
      if (pending === 0) return finish();
      if (grace === null && opts.enough(got)) {
        if (opts.graceMs <= 0) return finish();
        grace = clock.setTimeout(finish, opts.graceMs);
      }
    };
    if (ids.length === 0) return finish();
    for (const id of ids) {
      let p: Promise<T>;
      try {
        p = call(id);
      } catch (err) {
        p = Promise.reject(err);
      }
      p.then((v) => { if (!finished) got[id] = v; }, () => {}).finally(settled);
    }
  });
}

function withDeadline<T>(clock: Clock, p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = clock.setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => { clock.clearTimeout(t); resolve(v); },
      (e: unknown) => { clock.clearTimeout(t); reject(e instanceof Error ? e : new Error(String(e))); },
    );
  });
}
