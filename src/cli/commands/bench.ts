import type { Command } from '../main.ts';
import { EXIT } from '../main.ts';
import { runBench } from '../bench-runner.ts';
import { resultsTable, type BenchOp } from '../bench-stats.ts';
import { loadConfigForCli } from '../load-config-or-exit.ts';
import { resolveTarget } from '../router-client.ts';
import { useColor } from '../table.ts';

// `tessera bench`: load against a running router (DESIGN §8). Progress on
// stderr every second, the summary table (or --json) on stdout.

const OPS: readonly BenchOp[] = ['write', 'read', 'mixed'];

function positiveInt(v: unknown, fallback: number): number | null {
  if (v === undefined) return fallback;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

export const command: Command = {
  summary: 'load generator against a router: --clients 64 --duration 10 --op write|read|mixed [--json]',
  options: {
    router: { type: 'string' },
    config: { type: 'string' },
    clients: { type: 'string' },
    duration: { type: 'string' },
    op: { type: 'string' },
    'max-ops': { type: 'string' },
    db: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values) {
    const clients = positiveInt(values.clients, 64);
    const duration = positiveInt(values.duration, 10);
    const maxOps = positiveInt(values['max-ops'], 2_000_000);
    const op = (values.op ?? 'write') as BenchOp;
    const db = typeof values.db === 'string' ? values.db : 'bench';
    if (clients === null || duration === null || maxOps === null || !OPS.includes(op) || clients > 4096) {
      process.stderr.write('usage: tessera bench [--router URL] [--clients 1..4096] [--duration SECONDS] [--op write|read|mixed] [--max-ops N] [--db NAME] [--json]\n');
      return EXIT.usage;
    }
    let config = null;
    if (typeof values.config === 'string') {
      config = loadConfigForCli(values.config, 'bench');
      if (!config) return EXIT.usage;
    }
    const target = resolveTarget({ router: values.router as string | undefined }, config);
    process.stderr.write(`tessera bench: ${op} against ${target.url}, ${clients} clients, ${duration} s (at most ${maxOps} requests)\n`);
    let result;
    try {
      result = await runBench({
        routerUrl: target.url, clients, durationMs: duration * 1000, op, maxOps, db,
        onProgress: (line) => process.stderr.write(`${line}\n`),
      });
    } catch (err) {
      process.stderr.write(`tessera bench: ${(err as Error).message}\n`);
      return EXIT.failed;
    }
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else process.stdout.write(resultsTable([result], useColor(process.stdout)));
    return result.ops > 0 ? EXIT.ok : EXIT.failed;
  },
};
