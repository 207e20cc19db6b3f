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
  let cutOff = false;
  for (;;) {
    if (opts.signal?.aborted) throw new Error(`stopped waiting for ${opts.message ?? 'condition'}: aborted`);
    // A check that hangs (a request to a paused process) must not outlive the
    // deadline: each one races the time left.
    const outcome = await raceDeadline(check, deadline - Date.now());
    if (outcome.kind === 'value') {
      if (outcome.value) return outcome.value as NonNullable<T>;
      last = outcome.value;
      lastError = undefined;
    } else if (outcome.kind === 'error') {
      lastError = outcome.error;
    } else {
      // Keep what the previous check found: that is the useful part of the message.
      cutOff = true;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, left)));
  }
  const why = lastError !== undefined ? `last error: ${(lastError as Error)?.message ?? String(lastError)}` : `last value: ${safeString(last)}`;
  const running = cutOff ? '; the last check was still running at the deadline' : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.message ?? 'condition'} (${why}${running})`);
}

type Outcome<T> = { kind: 'value'; value: T } | { kind: 'error'; error: unknown } | { kind: 'late' };

async function raceDeadline<T>(check: () => T | Promise<T>, leftMs: number): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Outcome<T>>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'late' }), Math.max(0, leftMs));
  });
  const run = (async (): Promise<Outcome<T>> => {
    try {
      return { kind: 'value', value: await check() };
    } catch (error) {
      return { kind: 'error', error };
    }
  })();
  try {
    return await Promise.race([run, late]);
  } finally {
    clearTimeout(timer);
  }
}

function safeString(v: unknown): string {
  try {
    return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
