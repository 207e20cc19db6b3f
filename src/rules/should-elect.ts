import type { Health } from './health.ts';

// When a router starts an election (router/FAILOVER.md "Storm guard").

/**
 * Storm guard: elect only when the view's primary is Offline (or there is
 * none) and the last election ended at least `minGapMs` ago. Use a gap from
 * electionGapMs so two routers that lost the same split vote retry at
 * different times.
 */
export function shouldElect(input: {
  primaryHealth: Health | null; lastElectionEndMs: number | null; nowMs: number; minGapMs: number;
  /**
   * When the view took on its primary, and how long a new primary gets to
   * answer before its silence counts (a primary another router just elected
   * has not been polled yet: electing at once would only depose it again).
   */
  primarySinceMs?: number; graceMs?: number;
}): boolean {
  if (input.primaryHealth !== null && input.primaryHealth !== 'Offline') return false;
  if (input.primaryHealth === 'Offline' && input.primarySinceMs !== undefined && input.graceMs !== undefined
    && input.nowMs - input.primarySinceMs < input.graceMs) return false;
  return input.lastElectionEndMs === null || input.nowMs - input.lastElectionEndMs >= input.minGapMs;
}

/** A gap in [baseMs, 2 × baseMs): randomised per router and per election. */
export function electionGapMs(baseMs: number, random: () => number = Math.random): number {
  return baseMs + Math.floor(random() * baseMs);
}
