import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { progressLine, summarize, type BenchOp, type BenchResult } from './bench-stats.ts';

// The load generator behind `tessera bench`: `clients` loops, each with one
// request outstanding, against a running router. Bounded by duration AND by
// operation count. Only the measured phase counts; creating the db and
// seeding documents for reads happen before it.

export interface BenchOptions {
  routerUrl: string;
  clients: number;
  durationMs: number;
  op: BenchOp;
  /** Upper bound on measured requests (default 2,000,000). */
  maxOps?: number;
  /** Documents written before a read or mixed run (default 1000). */
  seedDocs?: number;
  db?: string;
  label?: string;
  /** Per-request deadline (default 15 s; the router ends every request within writeTimeoutMs + 1 s). */
  requestTimeoutMs?: number;
  onProgress?: (line: string) => void;
}

/** A ~200-byte document body. */
function docBody(client: number, n: number): string {
  return JSON.stringify({ data: { client, n, at: Date.now(), payload: 'p'.repeat(140) }, tags: ['bench'] });
}

export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const db = opts.db ?? 'bench';
  const maxOps = opts.maxOps ?? 2_000_000;
  const timeoutMs = opts.requestTimeoutMs ?? 15_000;
  const runId = randomBytes(4).toString('hex');
  const pool = new Pool(opts.routerUrl, { connections: opts.clients, pipelining: 1, keepAliveTimeout: 30_000 });

  const call = async (method: 'GET' | 'PUT', path: string, body?: string): Promise<{ status: number; error?: string }> => {
    const res = await pool.request({
      method, path, body,
      headers: body ? { 'content-type': 'application/json' } : {},
      headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.body.text();
    if (res.statusCode < 300) return { status: res.statusCode };
    let code = '';
    try {
      code = (JSON.parse(text) as { error?: string }).error ?? '';
    } catch { /* not JSON */ }
    return { status: res.statusCode, error: `${res.statusCode}${code ? ` ${code}` : ''}` };
  };

  try {
    const created = await call('PUT', `/v1/db/${db}`);
    if (created.error) throw new Error(`cannot create db ${db}: ${created.error}`);

    // Seed documents to read, in parallel, outside the measurement.
    const known: string[] = [];
    if (opts.op !== 'write') {
      const seed = Math.max(1, opts.seedDocs ?? 1000);
      let next = 0;
      await Promise.all(Array.from({ length: Math.min(opts.clients, seed) }, async () => {
        while (next < seed) {
          const id = `seed-${runId}-${next++}`;
          // A 503 is retryable (the write is idempotent); a few attempts, then give up.
          let r = await call('PUT', `/v1/db/${db}/docs/${id}`, docBody(-1, 0));
          for (let attempt = 1; r.error?.startsWith('503') && attempt < 3; attempt++) r = await call('PUT', `/v1/db/${db}/docs/${id}`, docBody(-1, 0));
          if (r.error) throw new Error(`seeding failed: ${r.error}`);
          known.push(id);
        }
      }));
    }

    const latencies: number[] = [];
    const errorKinds: Record<string, number> = {};
    let issued = 0;
    let errors = 0;
    let window: number[] = [];
    const start = performance.now();
    const deadline = start + opts.durationMs;
    let lastTick = start;
    const ticker = setInterval(() => {
      const now = performance.now();
      opts.onProgress?.(progressLine({
        elapsedS: (now - start) / 1000, op: opts.op, windowOps: window.length, windowMs: now - lastTick,
        windowLatenciesMs: window, totalOps: latencies.length, totalErrors: errors,
      }));
      window = [];
      lastTick = now;
    }, 1000);

    const client = async (c: number) => {
      let n = 0;
      while (performance.now() < deadline && issued < maxOps) {
        issued++;
        const write = opts.op === 'write' || (opts.op === 'mixed' && (n & 1) === 0);
        const t0 = performance.now();
        let error: string | undefined;
        try {
          const r = write
            ? await call('PUT', `/v1/db/${db}/docs/b-${runId}-${c}-${n}`, docBody(c, n))
            : await call('GET', `/v1/db/${db}/docs/${known[(c * 7919 + n) % known.length]}`);
          error = r.error;
        } catch (err) {
          error = `network ${(err as { code?: string }).code ?? (err as Error).name}`;
        }
        n++;
        const ms = performance.now() - t0;
        if (error) {
          errors++;
          errorKinds[error] = (errorKinds[error] ?? 0) + 1;
        } else {
          latencies.push(ms);
          window.push(ms);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: opts.clients }, (_, c) => client(c)));
    } finally {
      clearInterval(ticker);
    }
    return summarize({ label: opts.label, op: opts.op, clients: opts.clients, elapsedMs: performance.now() - start, latenciesMs: latencies, errorKinds });
  } finally {
    await pool.close();
  }
}
