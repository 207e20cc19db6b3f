import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * JSON logs on stdout (DESIGN §2). Quiet by default: `info` carries only
 * lifecycle events (listening, election, promotion, rollback, catch-up,
 * config load); per-request logs are `debug`. The secret is redacted wherever
 * it could appear.
 */
export function createLogger(opts: { name: string; level?: string; nodeId?: string }): Logger {
  const level = (opts.level ?? process.env.TESSERA_LOG_LEVEL ?? 'info') as LevelWithSilent;
  return pino({
    name: opts.name,
    level,
    base: { pid: process.pid, ...(opts.nodeId ? { node: opts.nodeId } : {}) },
    redact: { paths: ['secret', '*.secret', 'cluster.secret', 'req.headers.authorization', 'headers.authorization'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
