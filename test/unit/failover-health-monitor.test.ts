import { describe, expect, it } from 'vitest';
import { HealthMonitor } from '../../router/failover/health-monitor.ts';
import type { NodeState } from '../../src/core/protocol.ts';
import { ManualClock } from '../harness/manual-clock.ts';

const NODES = [{ id: 'a', url: 'http://a' }, { id: 'b', url: 'http://b' }, { id: 'c', url: 'http://c' }];

function state(nodeId: string, lastSeq = 0): NodeState {
  return {
    nodeId, shardId: 0, role: nodeId === 'a' ? 'primary' : 'replica', term: 1, votedFor: null, primaryId: 'a',
    lastSeq, lastTerm: 1, commitSeq: 0, oldestSeq: 1, ready: true, rollbackCount: 0,
  };
}

/** A fake transport: each node answers at once, after `delayMs`, or never, as set per node. */
function harness(opts: { intervalMs?: number; pollTimeoutMs?: number } = {}) {
  const clock = new ManualClock(0);
  const behaviour = new Map<string, { kind: 'answer'; delayMs: number } | { kind: 'hang' } | { kind: 'fail' }>();
  const observations: { nodeId: string; state: NodeState | null; nowMs: number }[] = [];
  const polls: { nodeId: string; at: number; signal: AbortSignal; release: () => void }[] = [];
  const open = new Map<string, number>();
  let maxOpenPerNode = 0;
  const monitor = new HealthMonitor({
    nodes: NODES,
    intervalMs: opts.intervalMs ?? 500,
    ...(opts.pollTimeoutMs !== undefined ? { pollTimeoutMs: opts.pollTimeoutMs } : {}),
    clock,
    poll: (nodeId, signal) => {
      open.set(nodeId, (open.get(nodeId) ?? 0) + 1);
      maxOpenPerNode = Math.max(maxOpenPerNode, open.get(nodeId)!);
      const b = behaviour.get(nodeId) ?? { kind: 'answer', delayMs: 0 };
      return new Promise<NodeState>((resolve, reject) => {
        const done = () => open.set(nodeId, open.get(nodeId)! - 1);
        const release = () => { done(); resolve(state(nodeId, clock.now())); };
        polls.push({ nodeId, at: clock.now(), signal, release });
        if (b.kind === 'fail') { done(); reject(new Error('ECONNREFUSED')); }
        if (b.kind === 'answer') clock.setTimeout(release, b.delayMs);
        // 'hang' ignores its signal on purpose: the worst transport.
      });
    },
    onObservation: (nodeId, s, nowMs) => observations.push({ nodeId, state: s, nowMs }),
  });
  return { clock, behaviour, observations, polls, monitor, maxOpen: () => maxOpenPerNode };
}

describe('HealthMonitor', () => {
  it('polls every node at start and then every interval', async () => {
    const h = harness();
    h.monitor.start();
    await h.clock.advance(1500);
    for (const n of NODES) {
      expect(h.polls.filter((p) => p.nodeId === n.id).map((p) => p.at)).toEqual([0, 500, 1000, 1500]);
    }
    expect(h.observations.filter((o) => o.nodeId === 'b' && o.state !== null)).toHaveLength(4);
    h.monitor.stop();
  });

  it('reports the answer with the time it arrived', async () => {
    const h = harness();
    h.behaviour.set('b', { kind: 'answer', delayMs: 120 });
    h.monitor.start();
    await h.clock.advance(0);
    expect(h.observations.map((o) => o.nodeId).sort()).toEqual(['a', 'c']);
    await h.clock.advance(120);
    expect(h.observations.find((o) => o.nodeId === 'b')).toMatchObject({ nowMs: 120, state: { nodeId: 'b' } });
    h.monitor.stop();
  });

  it('a failed poll is an observation of null', async () => {
    const h = harness();
    h.behaviour.set('c', { kind: 'fail' });
    const tick = h.monitor.tickNow();
    await h.clock.advance(0);
    await tick;
    expect(h.observations.find((o) => o.nodeId === 'c')).toEqual({ nodeId: 'c', state: null, nowMs: 0 });
  });

  it('a hung poll reports null at its deadline, below the interval, and aborts its signal', async () => {
    const h = harness({ intervalMs: 500 });
    h.behaviour.set('b', { kind: 'hang' });
    h.monitor.start();
    await h.clock.advance(399);
    expect(h.observations.filter((o) => o.nodeId === 'b')).toHaveLength(0);
    await h.clock.advance(1);
    expect(h.observations.filter((o) => o.nodeId === 'b')).toEqual([{ nodeId: 'b', state: null, nowMs: 400 }]);
    expect(h.polls.find((p) => p.nodeId === 'b')!.signal.aborted).toBe(true);
    h.monitor.stop();
  });

  it('never overlaps two polls of one node, and drops an answer that comes after its deadline', async () => {
    const h = harness({ intervalMs: 500 });
    h.behaviour.set('b', { kind: 'hang' });
    h.monitor.start();
    await h.clock.advance(2000);
    // a and c were polled 5 times; b once, its first poll still open.
    expect(h.polls.filter((p) => p.nodeId === 'a')).toHaveLength(5);
    expect(h.polls.filter((p) => p.nodeId === 'b')).toHaveLength(1);
    expect(h.maxOpen()).toBe(1);
    const bNulls = () => h.observations.filter((o) => o.nodeId === 'b');
    expect(bNulls()).toHaveLength(1);

    // The hung poll finally returns: too late to count, but b is free again.
    h.behaviour.set('b', { kind: 'answer', delayMs: 0 });
    h.polls.find((p) => p.nodeId === 'b')!.release();
    await h.clock.advance(0);
    expect(bNulls()).toHaveLength(1);
    await h.clock.advance(500);
    expect(h.polls.filter((p) => p.nodeId === 'b')).toHaveLength(2);
    expect(bNulls().at(-1)).toMatchObject({ nowMs: 2500, state: { nodeId: 'b' } });
    h.monitor.stop();
  });

  it('stop() ends polling, aborts what is in flight, and reports nothing more', async () => {
    const h = harness();
    h.behaviour.set('a', { kind: 'answer', delayMs: 300 });
    h.monitor.start();
    await h.clock.advance(100);
    const before = h.observations.length;
    const polled = h.polls.length;
    h.monitor.stop();
    expect(h.polls.find((p) => p.nodeId === 'a')!.signal.aborted).toBe(true);
    await h.clock.advance(5000);
    expect(h.observations).toHaveLength(before);
    expect(h.polls).toHaveLength(polled);
  });

  it('tickNow polls at once without start() and resolves when every poll reported', async () => {
    const h = harness();
    h.behaviour.set('c', { kind: 'answer', delayMs: 50 });
    const tick = h.monitor.tickNow();
    let done = false;
    void tick.then(() => { done = true; });
    await h.clock.advance(49);
    expect(done).toBe(false);
    await h.clock.advance(1);
    expect(done).toBe(true);
    expect(h.observations).toHaveLength(3);
    expect(h.clock.pending()).toBe(0);
  });

  it('refuses a poll deadline that is not below the interval', () => {
    expect(() => harness({ intervalMs: 500, pollTimeoutMs: 500 })).toThrow(/pollTimeoutMs/);
  });
});
