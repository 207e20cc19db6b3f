import { describe, expect, it } from 'vitest';
import { composeCommands, longestGapMs, parseDuration, parseFaults, planSchedule, type WriteMark } from '../../src/cli/chaos/plan.ts';
import { formatResult } from '../../src/cli/commands/chaos.ts';
import type { ChaosResult } from '../../src/cli/chaos/run.ts';

describe('tessera chaos: options', () => {
  it.each([['60s', 60_000], ['2m', 120_000], ['1500ms', 1500], ['90', 90_000], ['1.5s', 1500], ['soon', null], ['0s', null], ['-1s', null]])('duration %s → %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it('faults: known kinds, deduplicated; unknown ones named', () => {
    expect(parseFaults('kill,pause,kill')).toEqual(['kill', 'pause']);
    expect(parseFaults('none')).toEqual([]);
    expect(parseFaults('kill,flood')).toBe("unknown fault 'flood' (known: kill, pause, primary, partition)");
  });
});

describe('tessera chaos: the seeded schedule', () => {
  const input = { seed: 42, durationMs: 60_000, faults: ['kill', 'pause', 'primary', 'partition'] as const, shardSizes: [3, 3, 5], failoverTimeoutMs: 1000 };

  it('one seed names one schedule; another seed another', () => {
    expect(planSchedule(input)).toEqual(planSchedule(input));
    expect(planSchedule({ ...input, seed: 43 })).not.toEqual(planSchedule(input));
  });

  it('never overlaps faults (so at most one node is down: a minority of every shard of 3+), and ends a second before the run', () => {
    for (let seed = 0; seed < 200; seed++) {
      const steps = planSchedule({ ...input, seed });
      expect(steps.length).toBeGreaterThan(5);
      for (let i = 1; i < steps.length; i++) expect(steps[i]!.atMs).toBeGreaterThanOrEqual(steps[i - 1]!.atMs + steps[i - 1]!.holdMs + 300);
      for (const s of steps) {
        expect(s.atMs + s.holdMs).toBeLessThanOrEqual(input.durationMs - 1000);
        expect(s.holdMs).toBeGreaterThanOrEqual(300);
        expect(s.holdMs).toBeLessThanOrEqual(2500);
        if (s.kind === 'primary') expect(s.node).toBe('primary');
        else expect(s.node).toBeLessThan(input.shardSizes[s.shard]!);
      }
    }
  });

  it('shards of fewer than 3 nodes get no faults, and no kinds means no faults', () => {
    const steps = planSchedule({ ...input, shardSizes: [1, 3, 2] });
    expect(new Set(steps.map((s) => s.shard))).toEqual(new Set([1]));
    expect(planSchedule({ ...input, shardSizes: [2, 2] })).toEqual([]);
    expect(planSchedule({ ...input, faults: [] })).toEqual([]);
  });
});

describe('tessera chaos --compose: docker compose commands', () => {
  it('kill/primary: SIGKILL then start; pause: pause then unpause; partition: none', () => {
    expect(composeCommands('/c.yml', 'kill', 'shard-0-1')).toEqual({
      fault: ['compose', '-f', '/c.yml', 'kill', '-s', 'SIGKILL', 'shard-0-1'], heal: ['compose', '-f', '/c.yml', 'start', 'shard-0-1'],
    });
    expect(composeCommands('/c.yml', 'primary', 'shard-2-0')!.fault).toEqual(['compose', '-f', '/c.yml', 'kill', '-s', 'SIGKILL', 'shard-2-0']);
    expect(composeCommands('/c.yml', 'pause', 'shard-1-2')).toEqual({
      fault: ['compose', '-f', '/c.yml', 'pause', 'shard-1-2'], heal: ['compose', '-f', '/c.yml', 'unpause', 'shard-1-2'],
    });
    expect(composeCommands('/c.yml', 'partition', 'shard-0-0')).toBeNull();
  });
});

describe('tessera chaos: figures', () => {
  const m = (shard: number, endMs: number, ok = true): WriteMark => ({ shard, startMs: endMs - 5, endMs, ok });
  it('longest gap: from the window start, between successes, to the window end; failures and other shards do not count', () => {
    const marks = [m(0, 100), m(0, 200), m(0, 900, false), m(1, 500), m(0, 1000)];
    expect(longestGapMs(marks, 0, 0, 1100)).toBe(800);
    expect(longestGapMs(marks, 0, 0, 2000)).toBe(1000);
    expect(longestGapMs(marks, 1, 0, 600)).toBe(500);
    expect(longestGapMs([], 0, 10, 60)).toBe(50);
  });

  it('the text report: timeline, figures, one verdict line per proof, the exit code', () => {
    const r: ChaosResult = {
      seed: 7, durationMs: 15_000, timeline: [{ atMs: 520, text: 'kill (SIGKILL) s0b (shard 0) for 436 ms' }],
      faults: [{ step: { atMs: 500, kind: 'kill', shard: 0, node: 1, holdMs: 436 }, victim: 's0b', startMs: 520, endMs: 960, unavailableMs: 0 }],
      stats: { acked: 10, ackedFresh: 4, deletesAcked: 1, reads: 9, failed: 0, indeterminate: 2, conflicts: 3 },
      lost: [], longestWriteGap: { shard: 0, ms: 120 },
      linearizable: { status: 'violation', keys: 2, ops: 20, report: 'violation: 2 keys\n\nkey "k0-1": violation' },
      converged: [{ shard: 0, consistent: true, complete: true, divergent: 0, seq: 30, detail: '' }],
      verdict: { lost: true, linearizable: false, converged: true, pass: false, violation: true }, dataDir: '/tmp/x',
    };
    const out = formatResult(r);
    expect(out).toContain('  [   0.52s] kill (SIGKILL) s0b (shard 0) for 436 ms\n');
    expect(out).toContain('  OK        no acknowledged write lost (4 fresh documents read back)\n');
    expect(out).toContain('  VIOLATION linearizable: 2 documents, 20 operations (checker: violation)\n      violation: 2 keys\n');
    expect(out).toContain('      key "k0-1": violation\n');
    expect(out).toContain('  OK        converged: shard 0 at seq 30: every copy equal\n');
    expect(out.trimEnd().split('\n').at(-1)).toBe('FAIL (exit 1; seed 7; data and logs kept in /tmp/x)');
  });
});
