export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What was being waited for; leads the timeout error. */
  message?: string;
  /** Stops the wait early (rejects) when aborted. */
  signal?: AbortSignal;
}

/**
 * Polls `check` until it returns a truthy value (which is returned) or the
 * deadline passes. A throwing check counts as "not yet"; the last error or
 * value is put in the timeout message, so a failing wait says why. This is
 * the only way tests and scripts wait for a condition: never a bare sleep.
 */
export async function waitFor<T>(check: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  let lastError: unknown = undefined;
  for (;;) {
    if (opts.signal?.aborted) throw new Error(`stopped waiting for ${opts.message ?? 'condition'}: aborted`);
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, left)));
  }
  const why = lastError !== undefined ? `last error: ${(lastError as Error)?.message ?? String(lastError)}` : `last value: ${safeString(last)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.message ?? 'condition'} (${why})`);
}

function safeString(v: unknown): string {
  try {
    return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
