import { describe, expect, it } from 'vitest';
import { Coordinator, type CoordinatorDeps, type ElectedInfo } from '../../router/failover/coordinator.ts';
import { createLogger } from '../../src/core/logger.ts';
import { SimCluster, runUntilSettled } from '../sim/sim-cluster.ts';
import { appendRule, lastOf, replicateRequest, replicateRule } from '../sim/sim-model.ts';

const FAILOVER_MS = 1500; // step deadline 500, state grace 100

/** A shard a(primary) b c at term 1, each with a log of `lens[i]` entries of term 1. */
function setup(lens: number[] = [5, 5, 5], ids = ['a', 'b', 'c']) {
  const sim = new SimCluster(ids);
  ids.forEach((id, i) => {
    for (let k = 0; k < lens[i]!; k += 1) sim.node(id).log.push({ seq: k + 1, term: 1 });
  });
  const view = { term: 1, primaryId: 'a' as string | null };
  const events: string[] = [];
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const deps: CoordinatorDeps = {
    shardId: 0,
    nodes: ids,
    failoverTimeoutMs: FAILOVER_MS,
    clock: sim.clock,
    log: {
      info: (obj, msg) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
      debug: (obj, msg) => lines.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }),
    },
    view: () => ({ ...view }),
    ...sim.transport('r1'),
    onAdopt: (term, primaryId) => { events.push(`adopt ${term} ${primaryId}`); view.term = term; view.primaryId = primaryId; },
    onElected: (term, primaryId, info: ElectedInfo) => {
      events.push(`elected ${term} ${primaryId} lastSeq=${info.lastSeq} granted=${info.granted}`);
      view.term = term;
      view.primaryId = primaryId;
    },
  };
  return { sim, view, events, lines, deps, coord: new Coordinator(deps) };
}

describe('Coordinator.runElection', () => {
  it('elects the most complete replica when the primary is down, and fences through the votes', async () => {
    const { sim, events, coord } = setup([7, 6, 7]);
    sim.crash('a');
    const r = await runUntilSettled(sim.clock, coord.runElection({ reason: 'primary_offline' }));
    expect(r).toMatchObject({ outcome: 'elected', term: 2, primaryId: 'c', answered: 2, granted: 2, reason: 'primary_offline' });
    // c appended its noop of term 2 on promotion.
    expect(events).toEqual(['elected 2 c lastSeq=8 granted=2']);
    expect(sim.node('c')).toMatchObject({ role: 'primary', term: 2, votedFor: 'c' });
    expect(sim.node('b')).toMatchObject({ role: 'replica', term: 2, votedFor: 'c' });
  });

  it('waits only a short grace for the last state once a majority answered', async () => {
    const { sim, coord } = setup();
    sim.setLink('r1', 'a', 'drop'); // a hangs (SIGSTOP): neither answer nor refusal
    const r = await runUntilSettled(sim.clock, coord.runElection({ reason: 'primary_offline' }), 60_000, 1);
    expect(r.outcome).toBe('elected');
    // 100 ms grace for a's state; votes end at the majority, not at a's deadline.
    expect(r.durationMs).toBe(100);
    expect(r.startedAt).toBe(0);
    expect(coord.lastEndMs).toBe(100);
  });

  it('adopts a primary another router elected, without voting', async () => {
    const { sim, events, coord } = setup();
    Object.assign(sim.node('b'), { term: 3, role: 'primary', votedFor: 'b', primaryId: 'b' });
    sim.crash('a');
    const r = await runUntilSettled(sim.clock, coord.runElection({ reason: 'primary_offline' }));
    expect(r).toMatchObject({ outcome: 'adopted', term: 3, primaryId: 'b' });
    expect(events).toEqual(['adopt 3 b']);
    expect(sim.sent.vote ?? 0).toBe(0);
  });

  it('does not elect without a majority of answers, and changes nothing on the nodes', async () => {
    const { sim, events, coord } = setup();
    sim.crash('a');
    sim.setLink('r1', 'c', 'drop');
    const r = await runUntilSettled(sim.clock, coord.runElection({ reason: 'primary_offline' }));
    expect(r).toMatchObject({ outcome: 'no_quorum', answered: 1 });
    expect(r.durationMs).toBe(500); // c's state deadline
    expect(events).toEqual([]);
    expect(sim.sent.vote ?? 0).toBe(0);
    expect(sim.node('b')).toMatchObject({ term: 1, votedFor: null });
  });

  it('loses when the votes do not reach a majority (a vote reply dropped)', async () => {
    const { sim, events, coord } = setup();
    sim.crash('a');
    // c answers its state, then its link starts dropping replies.
    sim.beforeDeliver = (to, kind) => { if (to === 'c' && kind === 'vote') sim.setLink('r1', 'c', 'drop_reply'); };
    const r = await runUntilSettled(sim.clock, coord.runElection({ reason: 'primary_offline' }));
    expect(r).toMatchObject({ outcome: 'lost', term: 2, granted: 1 });
    expect(events).toEqual([]);
    expect(sim.sent.promote ?? 0).toBe(0);
    // c did grant: the vote stands for term 2 even though nobody heard it.
    expect(sim.node('c')).toMatchObject({ term: 2, votedFor: 'b' });
  });

  it('aborts when a refusal shows a higher term (another election got ahead)', async () => {
    const { sim, events, coord } = setup();
    sim.crash('a');
    sim.beforeDeliver = (to, kind) => {
      if (to === 'c' && kind === 'vote') Object.assign(sim.node('c'), { term: 9, votedFor: 'x' });
    };
    const r = await runUntilSettled(sim.clock, coord.runElection({ reason: 'primary_offline' }));
    expect(r).toMatchObject({ outcome: 'lost', term: 9 });
    expect(r.detail).toMatch(/term 9/);
    expect(events).toEqual([]);
  });

  it('a promote whose reply is lost is "lost"; the next election adopts the node that did become primary', async () => {
    const { sim, events, coord } = setup();
    sim.crash('a');
    sim.beforeDeliver = (to, kind) => { if (kind === 'promote') sim.setLink('r1', to, 'drop_reply'); };
    const r1 = await runUntilSettled(sim.clock, coord.runElection({ reason: 'primary_offline' }));
    expect(r1).toMatchObject({ outcome: 'lost', term: 2 });
    expect(r1.detail).toMatch(/promote failed/);
    expect(sim.node('b').role).toBe('primary');
    sim.beforeDeliver = () => {};
    sim.heal();
    sim.crash('a');
    const r2 = await runUntilSettled(sim.clock, coord.runElection({ reason: 'primary_offline' }));
    expect(r2).toMatchObject({ outcome: 'adopted', term: 2, primaryId: 'b' });
    expect(events).toEqual(['adopt 2 b']);
  });

  it('the view primary answering after all is adopted, not deposed', async () => {
    const { sim, coord } = setup();
    const r = await runUntilSettled(sim.clock, coord.runElection({ reason: 'primary_offline' }));
    expect(r).toMatchObject({ outcome: 'adopted', term: 1, primaryId: 'a' });
    expect(sim.node('a').role).toBe('primary');
  });

  it('runs one election per shard at a time: a second call shares the first', async () => {
    const { sim, coord } = setup();
    sim.crash('a');
    const p1 = coord.runElection({ reason: 'primary_offline' });
    const p2 = coord.runElection({ reason: 'primary_offline' });
    expect(p2).toBe(p1);
    expect(coord.running).toBe(true);
    await runUntilSettled(sim.clock, p1);
    expect(sim.sent.vote).toBe(3);
    expect(sim.sent.promote).toBe(1);
    expect(coord.running).toBe(false);
    expect(coord.lastResult?.outcome).toBe('elected');
  });

  it('manual failover to a caught-up target deposes the live primary through its vote', async () => {
    const { sim, events, coord } = setup();
    const r = await runUntilSettled(sim.clock, coord.runElection({ reason: 'manual', target: 'c' }));
    // The tally stops at a majority (a and b answer first).
    expect(r).toMatchObject({ outcome: 'elected', term: 2, primaryId: 'c', granted: 2 });
    expect(events).toEqual(['elected 2 c lastSeq=6 granted=2']);
    expect(sim.node('a')).toMatchObject({ role: 'replica', term: 2 });
    // The deposed primary refuses writes stamped with its old term.
    expect(appendRule(sim.node('a'), 1)).toBeNull();
  });

  it('manual failover to a target that is behind is refused before any vote', async () => {
    const { sim, coord } = setup([6, 5, 6]);
    const r = await runUntilSettled(sim.clock, coord.runElection({ reason: 'manual', target: 'b' }));
    expect(r).toMatchObject({ outcome: 'target_behind' });
    expect(sim.sent.vote ?? 0).toBe(0);
    expect(sim.node('a')).toMatchObject({ role: 'primary', term: 1 });
  });

  it('logs one info line per result, and repeats of a failure at debug', async () => {
    const { sim, coord, lines } = setup();
    sim.crash('a');
    sim.crash('b');
    for (let i = 0; i < 3; i += 1) await runUntilSettled(sim.clock, coord.runElection({ reason: 'primary_offline' }));
    sim.recover('b');
    await runUntilSettled(sim.clock, coord.runElection({ reason: 'primary_offline' }));
    expect(lines.map((l) => `${l.level} ${l.obj.outcome}`)).toEqual(['info no_quorum', 'debug no_quorum', 'debug no_quorum', 'info elected']);
    expect(lines[3]!.msg).toBe('election elected: b is primary of shard 0 in term 2');
    expect(lines[3]!.obj).toMatchObject({ shard: 0, term: 2, primaryId: 'b', reason: 'primary_offline' });
  });

  it('takes a pino logger as is', async () => {
    const { sim, deps } = setup();
    sim.crash('a');
    const coord = new Coordinator({ ...deps, log: createLogger({ name: 'test', level: 'silent' }) });
    expect((await runUntilSettled(sim.clock, coord.runElection({ reason: 'primary_offline' }))).outcome).toBe('elected');
  });
});

describe('Coordinator.switchover', () => {
  it('pauses writes, waits for the target to catch up, elects it, and resumes writes', async () => {
    const { sim, coord, view } = setup([8, 8, 6]);
    const pauses: string[] = [];
    let polls = 0;
    sim.beforeDeliver = (to, kind) => {
      // The router's replication would bring c level while writes are paused;
      // here it happens after the first round of polls.
      if (to === 'c' && kind === 'state' && ++polls === 2) replicateRule(sim.node('c'), replicateRequest(sim.node('a'), 6, 8));
    };
    const r = await runUntilSettled(sim.clock, coord.switchover({
      target: 'c',
      pauseWrites: async () => { pauses.push('pause'); return () => pauses.push('resume'); },
      catchUpTimeoutMs: 5000,
      pollMs: 50,
    }));
    expect(r).toMatchObject({ outcome: 'elected', primaryId: 'c', term: 2 });
    expect(pauses).toEqual(['pause', 'resume']);
    expect(view).toEqual({ term: 2, primaryId: 'c' });
    expect(lastOf(sim.node('c'))).toEqual({ lastSeq: 9, lastTerm: 2 });
  });

  it('gives up when the target does not catch up in time, and still resumes writes', async () => {
    const { sim, coord } = setup([8, 8, 6]);
    const pauses: string[] = [];
    const r = await runUntilSettled(sim.clock, coord.switchover({
      target: 'c',
      pauseWrites: async () => { pauses.push('pause'); return () => pauses.push('resume'); },
      catchUpTimeoutMs: 1000,
      pollMs: 100,
    }));
    expect(r).toMatchObject({ outcome: 'target_behind' });
    expect(r.detail).toMatch(/2 entries behind/);
    expect(r.durationMs).toBeGreaterThanOrEqual(1000);
    expect(pauses).toEqual(['pause', 'resume']);
    expect(sim.node('a')).toMatchObject({ role: 'primary', term: 1 });
  });
});
