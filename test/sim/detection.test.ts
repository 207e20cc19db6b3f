import { describe, expect, it } from 'vitest';
import { rng } from '../../src/core/rng.ts';
import { Coordinator } from '../../router/failover/coordinator.ts';
import { electionGapMs, shouldElect } from '../../src/rules/should-elect.ts';
import { classifyHealth } from '../../src/rules/health.ts';
import { HealthMonitor } from '../../router/failover/health-monitor.ts';
import type { NodeState } from '../../src/core/protocol.ts';
import { SimCluster } from './sim-cluster.ts';

// The failover pieces wired the way the router wires them (FAILOVER.md
// "Wiring"), on a simulated shard and a manual clock, with the default
// timings: detection + election must fit DESIGN §6's target of
// 2 × failoverTimeoutMs, and a pause shorter than failoverTimeoutMs must
// not cause a failover.

const INTERVAL_MS = 500;
const FAILOVER_MS = 1500;

function wired(seed: number) {
  const sim = new SimCluster(['a', 'b', 'c'], { rand: rng(seed), maxDelayMs: 10 });
  const transport = sim.transport('r1');
  const view = { term: 1, primaryId: 'a' as string | null };
  const seen = new Map<string, { state: NodeState; atMs: number }>();
  const startMs = sim.clock.now();
  let gapMs = electionGapMs(INTERVAL_MS, () => 0.5);
  const elections: number[] = [];
  const coord = new Coordinator({
    shardId: 0, nodes: sim.ids, failoverTimeoutMs: FAILOVER_MS, clock: sim.clock,
    log: { info: () => {}, debug: () => {} },
    view: () => ({ ...view }),
    ...transport,
    onAdopt: (term, primaryId) => Object.assign(view, { term, primaryId }),
    onElected: (term, primaryId) => Object.assign(view, { term, primaryId }),
  });
  const maybeElect = (nowMs: number) => {
    const p = view.primaryId === null ? undefined : seen.get(view.primaryId);
    const primaryHealth = view.primaryId === null ? null : classifyHealth({
      state: p?.state ?? null, lastSeenMs: p?.atMs ?? null, nowMs, primaryLastSeq: p?.state.lastSeq ?? 0,
      writeRatePerMs: 0, maxReplicationLagMs: 10_000, failoverTimeoutMs: FAILOVER_MS, isPrimary: true,
    });
    if (coord.running || !shouldElect({ primaryHealth, lastElectionEndMs: coord.lastEndMs ?? startMs, nowMs, minGapMs: gapMs })) return;
    elections.push(nowMs);
    void coord.runElection({ reason: 'primary_offline' }).then(() => { gapMs = electionGapMs(INTERVAL_MS, () => 0.5); });
  };
  const monitor = new HealthMonitor({
    nodes: sim.ids.map((id) => ({ id, url: `http://${id}` })),
    intervalMs: INTERVAL_MS,
    clock: sim.clock,
    poll: (id) => transport.fetchState(id, INTERVAL_MS),
    onObservation: (id, state, nowMs) => {
      if (state) {
        seen.set(id, { state, atMs: nowMs });
        if (state.term > view.term) Object.assign(view, { term: state.term, primaryId: state.role === 'primary' ? id : null });
      }
      maybeElect(nowMs);
    },
  });
  return { sim, view, monitor, elections, seen };
}

describe('simulation: detection and election with default timings', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`a crashed primary is replaced within 2 × failoverTimeoutMs, not before failoverTimeoutMs of silence (seed ${seed})`, async () => {
      const { sim, view, monitor, seen } = wired(seed);
      monitor.start();
      await sim.clock.advance(3000);
      expect(view).toEqual({ term: 1, primaryId: 'a' });

      const crashedAt = sim.clock.now();
      sim.crash('a');
      let replacedAt: number | null = null;
      for (let t = 0; t < 10_000 && replacedAt === null; t += 10) {
        await sim.clock.advance(10);
        if (view.primaryId !== null && view.primaryId !== 'a') replacedAt = sim.clock.now();
      }
      monitor.stop();
      expect(replacedAt, `seed ${seed}: no new primary`).not.toBeNull();
      // Offline means silent for failoverTimeoutMs since the last answer
      // (which came up to one interval before the crash).
      expect(replacedAt! - seen.get('a')!.atMs).toBeGreaterThan(FAILOVER_MS);
      expect(replacedAt! - crashedAt).toBeLessThanOrEqual(2 * FAILOVER_MS);
      expect(view.term).toBe(2);
    });
  }

  it('a primary unreachable for less than failoverTimeoutMs keeps its place', async () => {
    const { sim, view, monitor } = wired(7);
    monitor.start();
    await sim.clock.advance(2000);
    sim.setLink('r1', 'a', 'drop');
    await sim.clock.advance(FAILOVER_MS - INTERVAL_MS);
    sim.heal();
    await sim.clock.advance(5000);
    monitor.stop();
    expect(view).toEqual({ term: 1, primaryId: 'a' });
    expect(sim.sent.vote ?? 0).toBe(0);
    expect(sim.node('a')).toMatchObject({ role: 'primary', term: 1 });
  });

  it('a majority down: no election succeeds, and attempts are spaced by the storm guard', async () => {
    const { sim, view, monitor, elections } = wired(8);
    monitor.start();
    await sim.clock.advance(2000);
    const crashedAt = sim.clock.now();
    sim.crash('a');
    sim.crash('b');
    await sim.clock.advance(10_000);
    monitor.stop();
    expect(view.primaryId).toBe('a');
    expect(sim.sent.vote ?? 0).toBe(0);
    // The first attempt once a has been silent failoverTimeoutMs, then at
    // least the 750 ms gap between attempts (not one per observation).
    expect(elections[0]! - crashedAt).toBeGreaterThanOrEqual(FAILOVER_MS - INTERVAL_MS);
    for (let i = 1; i < elections.length; i += 1) expect(elections[i]! - elections[i - 1]!).toBeGreaterThanOrEqual(750);
    expect(elections.length).toBeGreaterThanOrEqual(5);
    expect(elections.length).toBeLessThanOrEqual(12);
  });
});
