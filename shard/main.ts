import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { collectProcessMetrics, createShardMetrics, Registry } from '../src/core/metrics.ts';
import { findNode, redactConfig, type Config } from '../src/core/config/index.ts';
import { bindAddress } from '../src/core/http/listen.ts';
import { tlsMaterial } from '../src/core/http/tls.ts';
import { createLogger, type Logger } from '../src/core/logger.ts';
import { build } from './app.ts';
import { DataDirLock } from './store/dir-lock.ts';
import { GroupCommit, Store } from './store/index.ts';
import { runUntilSignal } from '../src/core/run-until-signal.ts';

// Composition root of one shard node.
//
// Start-up order: resolve the node in the config → create the data dir →
// take its lock (a second process on it stops here, touching nothing) →
// open the Store (migrations; a new file starts at term 1, the shard's first
// node as primary, not joined until a router joins it) → group commit →
// build the app → write the pid file → listen → log the one `listening`
// line (launchers wait for it).
//
// Shutdown (SIGTERM/SIGINT): stop accepting and let in-flight requests finish
// (app.close) → drain queued writes → close SQLite → remove the pid file →
// exit 0. A SIGKILL skips all of it, which is fine: every answered write was
// committed with synchronous=FULL, and the pid file is rewritten on start.

export interface ShardOptions {
  config: Readonly<Config>;
  /** Where the config came from, for the `config loaded` line. */
  configPath?: string;
  nodeId: string;
  /** Data dir; default `<config.dataDir>/<nodeId>`. */
  dataDir?: string;
  /** Bind address; default the host of the node's URL. */
  host?: string;
  logLevel?: string;
  /** Group commit on (default) or one transaction per write (benchmarks). */
  groupCommit?: boolean;
  synchronous?: 'FULL' | 'NORMAL' | 'OFF';
}

export interface RunningShard {
  app: FastifyInstance;
  store: Store;
  url: string;
  dataDir: string;
  logger: Logger;
  close(): Promise<void>;
}

export async function startShard(opts: ShardOptions): Promise<RunningShard> {
  const found = findNode(opts.config, opts.nodeId);
  if (!found) throw new Error(`node ${opts.nodeId} is not in the config`);
  const { shard, node } = found;
  const logger = createLogger({ name: 'shard', nodeId: node.id, ...(opts.logLevel ? { level: opts.logLevel } : {}) });
  const dataDir = opts.dataDir ?? join(opts.config.dataDir, node.id);
  logger.info({ file: opts.configPath ?? null, config: redactConfig(opts.config), dataDir }, 'config loaded');
  // Read before the store opens: a missing certificate is a start-up error.
  const tls = tlsMaterial(opts.config, { nodeId: node.id });
  mkdirSync(dataDir, { recursive: true });
  // Before anything else in the data dir: a second process on it must stop here.
  const lock = DataDirLock.acquire(dataDir);

  const first = shard.nodes[0]!;
  let store: Store;
  try {
    store = new Store({
      path: join(dataDir, 'tessera.db'),
      nodeId: node.id,
      shardId: shard.id,
      initial: { role: first.id === node.id ? 'primary' : 'replica', primaryId: first.id },
      walRetention: opts.config.replication.walRetention,
      commitsAlone: shard.nodes.length === 1,
      // Votes wait out a live primary for a failover timeout less one poll: a router judging the
      // primary silent after failoverTimeoutMs still finds the voters ready (src/rules/vote.ts).
      stickyMs: opts.config.replication.failoverTimeoutMs - opts.config.replication.healthCheckIntervalMs,
      synchronous: opts.synchronous ?? 'FULL',
      onEvent: (event, details) => logger.info(details, event),
    });
  } catch (err) {
    lock.release();
    throw err;
  }
  const registry = new Registry();
  collectProcessMetrics(registry);
  const metrics = createShardMetrics(registry);
  const commit = new GroupCommit(store, {
    enabled: opts.groupCommit ?? true,
    onFlush: (writes, seconds) => {
      metrics.groupSize.observe(writes);
      metrics.commitTime.observe(seconds);
      store.trim();
    },
  });
  // Fastify's own info lines (e.g. "Server listening") would break the
  // one-lifecycle-line rule; it logs only warnings unless we debug.
  const verbose = logger.isLevelEnabled('debug');
  let rollbacksSeen = store.state().rollbackCount;
  const beforeScrape = () => {
    const st = store.state();
    // A snapshot install may empty the rollback table: a counter never goes down.
    if (st.rollbackCount > rollbacksSeen) metrics.rollbacks.inc(st.rollbackCount - rollbacksSeen);
    rollbacksSeen = st.rollbackCount;
    metrics.lastSeq.set(st.lastSeq);
    metrics.commitSeq.set(st.commitSeq);
    metrics.term.set(st.term);
  };
  const app = await build({ store, commit, config: opts.config, registry, beforeScrape, logger: verbose ? logger : logger.child({}, { level: 'warn' }), ...(tls ? { https: tls } : {}) });

  const pidFile = join(dataDir, 'tessera.pid');
  writeFileSync(pidFile, `${process.pid}\n`);
  const { host, port } = bindAddress(node.url, opts.host);
  try {
    await app.listen({ host, port });
  } catch (err) {
    rmSync(pidFile, { force: true });
    store.close();
    lock.release();
    throw err;
  }
  const state = store.state();
  logger.info({ url: node.url, bind: `${host}:${port}`, shard: shard.id, role: state.role, term: state.term, lastSeq: state.lastSeq, dataDir }, 'listening');

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      await app.close();
      await commit.drain();
      store.close();
      rmSync(pidFile, { force: true });
      lock.release();
    })();
    return closing;
  };
  return { app, store, url: node.url, dataDir, logger, close };
}

/** Runs until SIGTERM/SIGINT; resolves with the exit code. */
export async function runShard(opts: ShardOptions): Promise<number> {
  return runUntilSignal(() => startShard(opts));
}
