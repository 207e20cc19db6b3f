import type { Clock } from '../../src/core/clock.ts';

// Client write and read rates for the /ui page: requests to /v1/db/... counted
// by kind as they are answered, turned into per-second rates over a sliding
// window of one-second buckets (the last few seconds, not since start-up).

export type TrafficKind = 'write' | 'read';

const WINDOW_S = 5;

/** Which kind a client request is, or null for operator and probe routes. */
export function trafficKind(method: string, url: string): TrafficKind | null {
  if (!url.startsWith('/v1/db/')) return null;
  if (method === 'GET' || method === 'HEAD') return 'read';
  // Queries are reads even though _find is a POST.
  if (method === 'POST' && /\/_find\//.test(url)) return 'read';
  return method === 'PUT' || method === 'POST' || method === 'DELETE' ? 'write' : null;
}

export class Traffic {
  readonly #clock: Clock;
  /** second → [writes, reads] */
  readonly #buckets = new Map<number, [number, number]>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  note(kind: TrafficKind): void {
    const s = Math.floor(this.#clock.now() / 1000);
    let b = this.#buckets.get(s);
    if (!b) {
      b = [0, 0];
      this.#buckets.set(s, b);
      for (const k of this.#buckets.keys()) if (k <= s - WINDOW_S - 1) this.#buckets.delete(k);
    }
    b[kind === 'write' ? 0 : 1]++;
  }

  /** Per-second rates over the last WINDOW_S complete seconds. */
  rates(): { writesPerSec: number; readsPerSec: number } {
    const now = Math.floor(this.#clock.now() / 1000);
    let w = 0;
    let r = 0;
    for (let s = now - WINDOW_S; s < now; s++) {
      const b = this.#buckets.get(s);
      if (b) {
        w += b[0];
        r += b[1];
      }
    }
    return { writesPerSec: Math.round((w / WINDOW_S) * 10) / 10, readsPerSec: Math.round((r / WINDOW_S) * 10) / 10 };
  }
}
