import type { FastifyInstance } from 'fastify';
import { systemClock, type Clock } from '../src/core/clock.ts';
import { redactConfig, type Config } from '../src/core/config/index.ts';
import { majority } from '../src/rules/index.ts';
import { bindAddress } from '../src/core/http/listen.ts';
import { tlsMaterial } from '../src/core/http/tls.ts';
import { createLogger, type Logger } from '../src/core/logger.ts';
import { createRouterMetrics, Registry } from '../src/core/metrics.ts';
import { build } from './app.ts';
import { Shards } from './replication/shards.ts';
import { Failover } from './failover/wiring.ts';
import { AntiEntropy } from './verify/background.ts';
import { runUntilSignal } from '../src/core/run-until-signal.ts';

// Composition root of the router.
//
// Start-up order: shard runtimes and one client per node → discover every
// shard's term and primary from the nodes' states (until each shard has a
// majority answering, bounded; an unready router still starts so /readyz can
// say why) → which starts one ReplicaStream per replica → build the app and
// compile its schemas → start the health monitor and elections (router/failover.ts)
// → the background anti-entropy pass when configured (router/verify/) → listen → log the one `listening` line.
//
// Shutdown (SIGTERM/SIGINT): stop accepting and let in-flight requests end
// (each has its own deadline) → stop the health monitor → stop the streams and settle
// waiting writes → close node connections → exit 0.

export interface RouterOptions {
  config: Readonly<Config>;
  /** Where the config came from, for the `config loaded` line. */
  configPath?: string;
  host?: string;
  logLevel?: string;
  clock?: Clock;
  /** How long start-up waits for a majority of each shard (default 10 s). */
  discoverTimeoutMs?: number;
}

export interface RunningRouter {
  app: FastifyInstance;
  shards: Shards;
  url: string;
  logger: Logger;
  close(): Promise<void>;
}

export async function startRouter(opts: RouterOptions): Promise<RunningRouter> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const logger = createLogger({ name: 'router', ...(opts.logLevel ? { level: opts.logLevel } : {}) });
  logger.info({ file: opts.configPath ?? null, config: redactConfig(config) }, 'config loaded');
  const unsafe = config.shards.filter((s) => config.replication.writeQuorum < majority(s.nodes.length)).map((s) => s.id);
  if (unsafe.length > 0) {
    logger.warn({ writeQuorum: config.replication.writeQuorum, shards: unsafe }, 'allowUnsafeQuorum: writeQuorum is not a majority; a failover there can lose acknowledged writes');
  }
  if (!config.auth) {
    logger.warn({ url: config.router.url }, 'auth: no "auth" block in the config: the client API is open to anyone who can reach the router (README "Security")');
  }
  // Read before anything starts: a missing certificate is a start-up error.
  const tls = tlsMaterial(config, 'router');
  const registry = new Registry();
  const metrics = createRouterMetrics(registry);
  const shards = new Shards({ config, clock, log: logger, metrics, ...(tls ? { ca: tls.ca } : {}) });
  // The clock's timers are unref'd: with every node failing at once (down, or a
  // TLS handshake refused) nothing else would keep the process alive while
  // discovery waits between rounds, and Node would exit (code 13) mid-await.
  const keepAlive = setInterval(() => {}, 1_000);
  try {
    await shards.discover(clock.now() + (opts.discoverTimeoutMs ?? 10_000));
  } finally {
    clearInterval(keepAlive);
  }
  const verbose = logger.isLevelEnabled('debug');
  const failover = new Failover({ config, shards, clock, log: logger, metrics });
  const app = build({ config, shards, clock, logger: verbose ? logger : logger.child({}, { level: 'warn' }), registry, metrics, failover, ...(tls ? { https: tls } : {}) });
  // Compiling route schemas blocks the event loop for a moment: before health polling starts judging silence.
  await app.ready();
  failover.start();
  const antiEntropy = new AntiEntropy({
    shards, clock, log: logger, metrics, intervalMs: config.replication.antiEntropyIntervalMs, writeTimeoutMs: config.replication.writeTimeoutMs,
  });
  antiEntropy.start();
  const { host, port } = bindAddress(config.router.url, opts.host);
  try {
    await app.listen({ host, port });
  } catch (err) {
    failover.stop();
    await antiEntropy.stop();
    await shards.stop();
    throw err;
  }
  logger.info({ url: config.router.url, bind: `${host}:${port}`, shards: shards.count }, 'listening');
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      await app.close();
      failover.stop();
      await antiEntropy.stop();
      await shards.stop();
    })();
    return closing;
  };
  return { app, shards, url: config.router.url, logger, close };
}

/** Runs until SIGTERM/SIGINT; resolves with the exit code. */
export async function runRouter(opts: RouterOptions): Promise<number> {
  return runUntilSignal(() => startRouter(opts));
}
