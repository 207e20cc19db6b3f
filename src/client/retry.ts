// When the client tries again (a pure decision, tested as a table). The rule
// follows what the answer says about the request (DESIGN §4 write outcomes):
// - a read is always safe to repeat;
// - a write answered `not_applied` (no primary took it), or one that provably
//   never reached a router (connection refused, connect timeout), is repeated;
// - a write whose outcome is unknown (`indeterminate`, a timeout, a connection
//   lost after the request went out, any other 5xx) is repeated only when it
//   carries an Idempotency-Key, so the repeat is answered like the first
//   attempt instead of being applied twice;
// - 429 and 503 answers name their wait in Retry-After, which is honoured;
// - everything else (2xx, 4xx, 500) is the answer.

export type AttemptResult =
  | { kind: 'answer'; status: number; code?: string | undefined; outcome?: string | undefined; retryAfterMs?: number | undefined }
  | { kind: 'network'; notDelivered: boolean; timedOut: boolean };

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 2000 };

export interface RetryContext {
  /** Reads (GET) repeat freely; writes follow the outcome. */
  idempotent: boolean;
  /** The write carries an Idempotency-Key (a repeat is answered like the first attempt). */
  keyed: boolean;
  /** Attempts made so far (1 after the first). */
  attempt: number;
  policy: RetryPolicy;
  /** ms left before the operation's deadline. */
  remainingMs: number;
  /** [0, 1): jitter (Math.random, or a fixed value in tests). */
  random: number;
}

export type RetryDecision =
  | { retry: false; reason: string }
  | { retry: true; delayMs: number; /** try another router URL first */ switchRouter: boolean; reason: string };

/** Is the request worth repeating, and is repeating it safe? */
export function classify(r: AttemptResult, idempotent: boolean, keyed: boolean): { retry: boolean; switchRouter: boolean; reason: string } {
  if (r.kind === 'network') {
    if (r.notDelivered) return { retry: true, switchRouter: true, reason: 'router unreachable (request not delivered)' };
    if (idempotent || keyed) return { retry: true, switchRouter: true, reason: r.timedOut ? 'timed out' : 'connection lost' };
    return { retry: false, switchRouter: false, reason: 'connection lost after the request went out: outcome unknown and no Idempotency-Key' };
  }
  const { status, outcome } = r;
  if (status < 500 && status !== 429) return { retry: false, switchRouter: false, reason: `answer ${status}` };
  if (status === 429) return { retry: true, switchRouter: false, reason: 'rate limited' };
  if (status === 500 || status === 501) return { retry: false, switchRouter: false, reason: `answer ${status}` };
  // 502/503/504 from here on.
  if (idempotent) return { retry: true, switchRouter: true, reason: `answer ${status}${r.code ? ` ${r.code}` : ''}` };
  // A db create/delete that reached some shards is idempotent: repeating completes it.
  if (outcome === 'not_applied' || outcome === 'partial') return { retry: true, switchRouter: true, reason: `${r.code ?? status}: ${outcome}` };
  if (keyed) return { retry: true, switchRouter: true, reason: `${r.code ?? status}: ${outcome ?? 'outcome unknown'}, repeated with its Idempotency-Key` };
  return { retry: false, switchRouter: false, reason: `${r.code ?? status}: ${outcome ?? 'outcome unknown'} and no Idempotency-Key` };
}

/** Exponential backoff with full jitter, at least Retry-After, never past the deadline. */
export function decideRetry(r: AttemptResult, ctx: RetryContext): RetryDecision {
  const c = classify(r, ctx.idempotent, ctx.keyed);
  if (!c.retry) return { retry: false, reason: c.reason };
  if (ctx.attempt >= ctx.policy.maxAttempts) return { retry: false, reason: `${c.reason}; gave up after ${ctx.attempt} attempts` };
  const backoff = Math.min(ctx.policy.maxDelayMs, ctx.policy.baseDelayMs * 2 ** (ctx.attempt - 1)) * ctx.random;
  const retryAfter = r.kind === 'answer' ? r.retryAfterMs : undefined;
  // A router that is unreachable says nothing about the next one: switch at once.
  const delayMs = Math.round(r.kind === 'network' && r.notDelivered && ctx.attempt === 1 ? 0 : Math.max(backoff, Math.min(retryAfter ?? 0, ctx.policy.maxDelayMs)));
  if (delayMs >= ctx.remainingMs) return { retry: false, reason: `${c.reason}; no time left for another attempt` };
  return { retry: true, delayMs, switchRouter: c.switchRouter, reason: c.reason };
}

/** `Retry-After` (seconds or an HTTP date) in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
