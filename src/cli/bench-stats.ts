import { renderTable, type Column } from './table.ts';

// Pure pieces of `tessera bench`: percentiles, the progress line, the summary
// and comparison tables. Latencies are in milliseconds.

export type BenchOp = 'write' | 'read' | 'mixed';

export interface BenchResult {
  label?: string;
  op: BenchOp;
  clients: number;
  /** Wall time of the measured phase. */
  elapsedMs: number;
  /** Requests answered 2xx. */
  ops: number;
  /** Requests that failed (non-2xx or network error). */
  errors: number;
  /** Error counts by code (`503 quorum_not_met`, `network`, ...). */
  errorKinds: Record<string, number>;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of unsorted samples (0 for none). `p` in (0, 100]. */
export function percentile(samples: ArrayLike<number>, p: number): number {
  if (samples.length === 0) return 0;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** One summary from the latencies of successful requests and the error tally. */
export function summarize(input: {
  label?: string; op: BenchOp; clients: number; elapsedMs: number; latenciesMs: ArrayLike<number>; errorKinds: Record<string, number>;
}): BenchResult {
  const sorted = Float64Array.from(input.latenciesMs).sort();
  const ops = sorted.length;
  const at = (p: number) => (ops === 0 ? 0 : sorted[Math.min(ops, Math.max(1, Math.ceil((p / 100) * ops))) - 1]!);
  const errors = Object.values(input.errorKinds).reduce((a, b) => a + b, 0);
  return {
    ...(input.label ? { label: input.label } : {}),
    op: input.op,
    clients: input.clients,
    elapsedMs: Math.round(input.elapsedMs),
    ops,
    errors,
    errorKinds: { ...input.errorKinds },
    opsPerSec: input.elapsedMs > 0 ? round1((ops * 1000) / input.elapsedMs) : 0,
    p50Ms: round2(at(50)),
    p99Ms: round2(at(99)),
    maxMs: round2(ops === 0 ? 0 : sorted[ops - 1]!),
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;

/** `[  3s] write  4115 ops/s  p50 1.20 ms  p99 5.31 ms  total 12345  errors 0` */
export function progressLine(input: { elapsedS: number; op: BenchOp; windowOps: number; windowMs: number; windowLatenciesMs: ArrayLike<number>; totalOps: number; totalErrors: number }): string {
  const rate = input.windowMs > 0 ? Math.round((input.windowOps * 1000) / input.windowMs) : 0;
  return `[${String(Math.round(input.elapsedS)).padStart(3)}s] ${input.op}  ${rate} ops/s  ` +
    `p50 ${percentile(input.windowLatenciesMs, 50).toFixed(2)} ms  p99 ${percentile(input.windowLatenciesMs, 99).toFixed(2)} ms  ` +
    `total ${input.totalOps}  errors ${input.totalErrors}`;
}

const COLUMNS: Column[] = [
  { header: 'RUN' },
  { header: 'OP' },
  { header: 'CLIENTS', align: 'right' },
  { header: 'OPS', align: 'right' },
  { header: 'OPS/S', align: 'right' },
  { header: 'P50 MS', align: 'right' },
  { header: 'P99 MS', align: 'right' },
  { header: 'MAX MS', align: 'right' },
  { header: 'ERRORS', align: 'right' },
];

/** One row per result (a single run, or the bench script's comparison). */
export function resultsTable(results: BenchResult[], color = false): string {
  const rows = results.map((r) => [
    r.label ?? '-', r.op, String(r.clients), String(r.ops), r.opsPerSec.toFixed(1),
    r.p50Ms.toFixed(2), r.p99Ms.toFixed(2), r.maxMs.toFixed(2),
    { text: String(r.errors), style: r.errors > 0 ? ('red' as const) : undefined },
  ]);
  const kinds = results.flatMap((r) => Object.entries(r.errorKinds).map(([k, n]) => `  ${r.label ?? r.op}: ${n} × ${k}`));
  return renderTable(COLUMNS, rows, { color }) + (kinds.length > 0 ? `errors by kind:\n${kinds.join('\n')}\n` : '');
}
