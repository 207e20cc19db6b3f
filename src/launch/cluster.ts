import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../core/config/index.ts';
import { ManagedProcess, describeExit } from './managed-process.ts';
import { waitFor } from './wait-for.ts';

// Runs a whole cluster as children of this process: every node of the config
// (`tessera shard`), then the router (`tessera router`), then waits for the
// router's /readyz. Used by `tessera cluster` and the bench script. Each
// child's full output goes to `<logDir>/<id>.log`; `onLine` sees every line
// (the CLI shows the lifecycle ones).

export interface LaunchOptions {
  configPath: string;
  config: Readonly<Config>;
  /** Folder for one log file per child. */
  logDir: string;
  /** Extra env for every child. */
  env?: NodeJS.ProcessEnv;
  logLevel?: string;
  /** Deadline for each child's ready line and then for the router's /readyz; default 60 s. */
  readyTimeoutMs?: number;
  onLine?: (name: string, line: string, stream: 'stdout' | 'stderr') => void;
  /** A child exited after start-up (not during stop()). */
  onExit?: (name: string, how: string) => void;
  /** Script run instead of bin/tessera.mjs (a stand-in, in tests). */
  entry?: string;
  /** Aborting during start-up stops every child and rejects (Ctrl-C while waiting for readiness). */
  signal?: AbortSignal;
}

export interface RunningCluster {
  routerUrl: string;
  router: ManagedProcess;
  nodes: Record<string, ManagedProcess>;
  /** Stops the router, then every node: SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

const graceMsOnAbort = 5_000;

export async function launchCluster(opts: LaunchOptions): Promise<RunningCluster> {
  mkdirSync(opts.logDir, { recursive: true });
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const files: WriteStream[] = [];
  let stopping = false;
  let started = false;

  const spawnSpec = (name: string, args: string[]) => {
    const file = createWriteStream(join(opts.logDir, `${name}.log`), { flags: 'a' });
    files.push(file);
    const proc = new ManagedProcess({
      name,
      args: [...args, '--config', opts.configPath, ...(opts.logLevel ? ['--log-level', opts.logLevel] : [])],
      env: opts.env,
      entry: opts.entry,
      timeoutMs: readyTimeoutMs,
      onLine: (line, stream) => {
        file.write(`${line}\n`);
        opts.onLine?.(name, line, stream);
      },
    });
    return proc;
  };

  const nodes: Record<string, ManagedProcess> = {};
  for (const shard of opts.config.shards) for (const node of shard.nodes) nodes[node.id] = spawnSpec(node.id, ['shard', '--node', node.id]);
  const router = spawnSpec('router', ['router']);
  const all = [...Object.values(nodes), router];

  const stop = async (graceMs = 5_000) => {
    stopping = true;
    // Router first: it stops sending writes before the nodes go away.
    await router.stop(graceMs);
    await Promise.all(Object.values(nodes).map((p) => p.stop(graceMs)));
    await Promise.all(files.map((f) => new Promise<void>((r) => f.end(() => r()))));
  };

  const abort = () => {
    // Ending the children makes their pending start() reject at once.
    for (const p of all) void p.stop(graceMsOnAbort);
  };
  opts.signal?.addEventListener('abort', abort, { once: true });
  try {
    if (opts.signal?.aborted) throw new Error('aborted before start-up');
    await Promise.all(Object.values(nodes).map((p) => p.start()));
    if (opts.signal?.aborted) throw new Error('start-up aborted');
    await router.start();
    const routerUrl = opts.config.router.url;
    await waitFor(async () => {
      if (!router.running) throw new Error(`router exited (${describeExit(await router.exited)})`);
      const res = await fetch(`${routerUrl}/readyz`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      return res.status === 200;
    }, { timeoutMs: readyTimeoutMs, intervalMs: 200, message: `${routerUrl}/readyz to answer 200`, signal: opts.signal }).catch((err: Error) => {
      if (opts.signal?.aborted) throw new Error('start-up aborted');
      throw new Error(`${err.message}\nlast router output:\n${router.tail(20)}`);
    });
  } catch (err) {
    await stop();
    throw opts.signal?.aborted ? new Error('start-up aborted') : err;
  } finally {
    opts.signal?.removeEventListener('abort', abort);
  }
  started = true;
  for (const p of all) {
    void p.exited.then((info) => {
      if (started && !stopping) opts.onExit?.(p.name, describeExit(info));
    });
  }
  return { routerUrl: opts.config.router.url, router, nodes, stop };
}
