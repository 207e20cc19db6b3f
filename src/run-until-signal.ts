import type { Logger } from './logger.ts';

/**
 * Keeps a started process (router or node) running until SIGTERM or SIGINT,
 * then closes it; resolves with the exit code (0 clean, 1 shutdown failed).
 */
export function runUntilSignal(running: { logger: Logger; close(): Promise<void> }): Promise<number> {
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      running.logger.info({ signal }, 'shutting down');
      running.close().then(() => resolve(0), (err: unknown) => {
        running.logger.error({ err }, 'shutdown failed');
        resolve(1);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
