import type { Logger } from './logger.ts';

interface Running {
  logger: Logger;
  close(): Promise<void>;
}

/**
 * Starts a process (router or node) and keeps it running until SIGTERM or
 * SIGINT, then closes it; resolves with the exit code (0 clean, 1 shutdown
 * failed). The handlers are installed before start-up, so a signal that
 * arrives while it is still starting closes it properly once it has started
 * (pid file removed, SQLite closed) instead of killing it half-way.
 */
export async function runUntilSignal(start: () => Promise<Running>): Promise<number> {
  let signalled: string | null = null;
  let onSignal: (signal: string) => void = (signal) => { signalled = signal; };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  const running = await start();
  return new Promise<number>((resolve) => {
    onSignal = (signal) => {
      running.logger.info({ signal }, 'shutting down');
      running.close().then(() => resolve(0), (err: unknown) => {
        running.logger.error({ err }, 'shutdown failed');
        resolve(1);
      });
    };
    if (signalled !== null) onSignal(signalled);
  });
}
