import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/core/errors.ts';
import {
  classify, decideRetry, DEFAULT_RETRY, ERROR_CLASSES, errorFromAnswer, parseRetryAfter, type AttemptResult,
  ConflictError, NoPrimaryError, QuorumNotMetError, TesseraClientError, NotFoundError,
} from '../../src/client/index.ts';

// The client's retry rule (src/client/retry.ts) as a table: what is repeated,
// what is the answer, and how long it waits.

const answer = (status: number, code?: string, outcome?: string, retryAfterMs?: number): AttemptResult => ({ kind: 'answer', status, code, outcome, retryAfterMs });
const net = (notDelivered: boolean, timedOut = false): AttemptResult => ({ kind: 'network', notDelivered, timedOut });

describe('classify: whether a failed attempt is repeated', () => {
  it.each([
    // [case, result, idempotent (read), keyed, retry, switch router]
    ['read, router unreachable', net(true), true, false, true, true],
    ['read, connection lost', net(false), true, false, true, true],
    ['read, timed out', net(false, true), true, false, true, true],
    ['read, 503 no_primary', answer(503, 'no_primary', 'not_applied'), true, false, true, true],
    ['read, 503 unavailable', answer(503, 'unavailable'), true, false, true, true],
    ['read, 404', answer(404, 'not_found'), true, false, false, false],
    ['read, 500 internal (a bug: no repeat)', answer(500, 'internal'), true, false, false, false],
    ['write, never delivered', net(true), false, false, true, true],
    ['write, connection lost, no key', net(false), false, false, false, false],
    ['write, connection lost, keyed', net(false), false, true, true, true],
    ['write, timed out, no key', net(false, true), false, false, false, false],
    ['write, timed out, keyed', net(false, true), false, true, true, true],
    ['write, 503 not_applied, no key', answer(503, 'no_primary', 'not_applied'), false, false, true, true],
    ['write, 503 indeterminate, no key', answer(503, 'quorum_not_met', 'indeterminate'), false, false, false, false],
    ['write, 503 indeterminate, keyed', answer(503, 'quorum_not_met', 'indeterminate'), false, true, true, true],
    ['write, 503 partial db create', answer(503, 'no_primary', 'partial'), false, false, true, true],
    ['write, 503 without outcome, no key', answer(503, 'unavailable'), false, false, false, false],
    ['write, 503 without outcome, keyed', answer(503, 'unavailable'), false, true, true, true],
    ['write, 429', answer(429), false, false, true, false],
    ['write, 409 conflict', answer(409, 'conflict'), false, true, false, false],
    ['write, 400', answer(400, 'bad_request'), false, true, false, false],
    ['write, 401', answer(401, 'unauthorized'), false, true, false, false],
    ['write, 500', answer(500, 'internal'), false, true, false, false],
  ] as const)('%s', (_name, r, idempotent, keyed, retry, switchRouter) => {
    const c = classify(r, idempotent, keyed);
    expect({ retry: c.retry, switchRouter: c.switchRouter }).toEqual({ retry, switchRouter });
  });
});

describe('decideRetry: how long it waits and when it stops', () => {
  const ctx = { idempotent: false, keyed: true, attempt: 1, policy: DEFAULT_RETRY, remainingMs: 60_000, random: 1 };

  it('backs off exponentially with jitter, capped at maxDelayMs', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((attempt) => {
      const d = decideRetry(answer(503, 'no_primary', 'not_applied'), { ...ctx, attempt });
      return d.retry ? d.delayMs : -1;
    });
    expect(delays).toEqual([100, 200, 400, 800, 1600, 2000, 2000]);
    const half = decideRetry(answer(503, 'no_primary', 'not_applied'), { ...ctx, attempt: 3, random: 0.5 });
    expect(half).toMatchObject({ retry: true, delayMs: 200 });
  });

  it('waits at least Retry-After (capped at maxDelayMs)', () => {
    expect(decideRetry(answer(503, 'no_primary', 'not_applied', 1000), ctx)).toMatchObject({ retry: true, delayMs: 1000 });
    expect(decideRetry(answer(503, 'no_primary', 'not_applied', 60_000), ctx)).toMatchObject({ retry: true, delayMs: 2000 });
  });

  it('moves to the next router at once when the first one cannot be reached', () => {
    expect(decideRetry(net(true), ctx)).toMatchObject({ retry: true, delayMs: 0, switchRouter: true });
    expect(decideRetry(net(true), { ...ctx, attempt: 2, random: 1 })).toMatchObject({ retry: true, delayMs: 200 });
  });

  it('stops after maxAttempts and before the deadline', () => {
    expect(decideRetry(answer(503, 'no_primary', 'not_applied'), { ...ctx, attempt: DEFAULT_RETRY.maxAttempts }).retry).toBe(false);
    expect(decideRetry(answer(503, 'no_primary', 'not_applied', 1000), { ...ctx, remainingMs: 500 }).retry).toBe(false);
  });

  it('never repeats an indeterminate write without a key, however much time is left', () => {
    expect(decideRetry(answer(503, 'quorum_not_met', 'indeterminate'), { ...ctx, keyed: false })).toMatchObject({ retry: false });
  });
});

describe('parseRetryAfter', () => {
  it.each([
    ['1', 1000], ['0', 0], ['  3 ', 3000], ['', undefined], ['soon', undefined],
  ] as const)('%j → %j', (v, ms) => expect(parseRetryAfter(v, 0)).toBe(ms));

  it('reads an HTTP date relative to now', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter(['2'], now)).toBe(2000);
  });
});

describe('typed errors from the stable code', () => {
  it('every code of the registry (src/core/errors.ts) has a class', () => {
    for (const code of Object.keys(ERRORS)) expect(ERROR_CLASSES, code).toHaveProperty(code);
  });

  it('is chosen by code, never by message text or status alone', () => {
    const e = errorFromAnswer(503, { ok: false, error: 'quorum_not_met', message: 'conflict not found', outcome: 'indeterminate', acks: 1, required: 2 }, 1000);
    expect(e).toBeInstanceOf(QuorumNotMetError);
    expect(e).not.toBeInstanceOf(ConflictError);
    expect(e).toMatchObject({ code: 'quorum_not_met', status: 503, outcome: 'indeterminate', retryAfterMs: 1000, details: { acks: 1, required: 2 } });
    expect(errorFromAnswer(409, { ok: false, error: 'conflict', message: 'no primary here' })).toBeInstanceOf(ConflictError);
    expect(errorFromAnswer(503, { ok: false, error: 'no_primary', message: 'x', outcome: 'not_applied' })).toBeInstanceOf(NoPrimaryError);
    expect(errorFromAnswer(404, { ok: false, error: 'not_found', message: 'x' })).toBeInstanceOf(NotFoundError);
  });

  it('keeps an unknown code (a newer router) with the base class, and classes bodies without a code by status', () => {
    const e = errorFromAnswer(422, { ok: false, error: 'shiny_new_code', message: 'm' });
    expect(e.constructor).toBe(TesseraClientError);
    expect(e.code).toBe('shiny_new_code');
    expect(errorFromAnswer(502, '<html>bad gateway</html>')).toMatchObject({ code: 'internal', status: 502 });
    expect(errorFromAnswer(400, null)).toMatchObject({ code: 'bad_request' });
  });
});
