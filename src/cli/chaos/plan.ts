import { rng } from '../../core/rng.ts';

// `tessera chaos`: the pure parts — option parsing, the seeded fault schedule,
// the compose commands and the figures computed from what the run recorded.
// The runner (run.ts) only carries them out, so one seed names one schedule.

export const FAULT_KINDS = ['kill', 'pause', 'primary', 'partition'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** `60s`, `2m`, `1500ms`, or a bare number of seconds. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  return Number.isFinite(ms) && ms > 0 ? Math.round(ms) : null;
}

export function parseFaults(text: string): FaultKind[] | string {
  if (text.trim() === '' || text === 'none') return [];
  const kinds = text.split(',').map((s) => s.trim());
  const bad = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (bad.length > 0) return `unknown fault ${bad.map((b) => `'${b}'`).join(', ')} (known: ${FAULT_KINDS.join(', ')})`;
  return [...new Set(kinds)] as FaultKind[];
}

/**
 * One fault: at `atMs` after the start, hit a node of `shard` for `holdMs`,
 * then heal it. `node` is the config index of the victim; for `primary` it is
 * resolved at run time (whoever is primary then).
 */
export interface FaultStep {
  atMs: number;
  kind: FaultKind;
  shard: number;
  node: number | 'primary';
  holdMs: number;
}

export interface ScheduleInput {
  seed: number;
  durationMs: number;
  faults: readonly FaultKind[];
  /** Nodes per shard, in shard order. */
  shardSizes: readonly number[];
  failoverTimeoutMs: number;
}

/**
 * A seeded schedule. Faults run one after the other, each healed before the
 * next starts, so at most one node of the whole cluster is down at a time:
 * a minority of any shard of three or more nodes (shards smaller than that
 * have no minority that can fail, and get no faults). Holds range around
 * `failoverTimeoutMs` (0.3× to 2.5×), so some faults end before detection and
 * some after an election; the last second of the run is left fault-free.
 */
export function planSchedule(input: ScheduleInput): FaultStep[] {
  const r = rng(input.seed);
  const eligible = input.shardSizes.map((n, i) => ({ i, n })).filter((s) => s.n >= 3);
  if (input.faults.length === 0 || eligible.length === 0) return [];
  const steps: FaultStep[] = [];
  const ft = input.failoverTimeoutMs;
  let t = 500 + r.int(1000);
  const end = input.durationMs - 1000;
  for (let k = 0; k < 10_000; k++) {
    const holdMs = Math.round(ft * (0.3 + r.next() * 2.2));
    if (t + holdMs > end) break;
    const kind = r.pick(input.faults);
    const shard = r.pick(eligible);
    const node = kind === 'primary' ? 'primary' as const : r.int(shard.n);
    steps.push({ atMs: t, kind, shard: shard.i, node, holdMs });
    // The gap lets the shard settle (catch-up, an election) before the next fault.
    t += holdMs + 300 + r.int(Math.max(300, ft));
  }
  return steps;
}

/**
 * `docker compose` argv for a fault on a compose service and for its heal
 * (README "tessera chaos"). `partition` has no compose form here: the compose
 * network has no proxy between the router and a node.
 */
export function composeCommands(composeFile: string, kind: FaultKind, service: string): { fault: string[]; heal: string[] } | null {
  const base = ['compose', '-f', composeFile];
  switch (kind) {
    case 'kill':
    case 'primary':
      return { fault: [...base, 'kill', '-s', 'SIGKILL', service], heal: [...base, 'start', service] };
    case 'pause':
      return { fault: [...base, 'pause', service], heal: [...base, 'unpause', service] };
    case 'partition':
      return null;
  }
}

/** A successful or failed write attempt as the load saw it (for the figures). */
export interface WriteMark {
  shard: number;
  startMs: number;
  endMs: number;
  ok: boolean;
}

/**
 * Longest time, within [fromMs, toMs], during which no write to `shard` that
 * started in the window succeeded: from the window's start to the first
 * success, between successes, and from the last one to the window's end.
 */
export function longestGapMs(marks: readonly WriteMark[], shard: number, fromMs: number, toMs: number): number {
  const oks = marks.filter((m) => m.shard === shard && m.ok && m.endMs >= fromMs && m.startMs <= toMs).map((m) => m.endMs).sort((a, b) => a - b);
  let prev = fromMs;
  let gap = 0;
  for (const t of oks) {
    if (t - prev > gap) gap = t - prev;
    prev = Math.max(prev, t);
  }
  return Math.max(gap, toMs - prev);
}
