import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fetch } from 'undici';
import type { Config } from '../core/config/index.ts';
import { configCa, trustingAgent } from '../core/http/tls.ts';
import { ManagedProcess, describeExit, type ProcessSpec } from './managed-process.ts';
import { livePidFromFile, terminatePid } from './pid-file.ts';
import { TcpProxy } from './tcp-proxy.ts';
import { waitFor } from './wait-for.ts';

// The one launch sequence of a whole cluster as children of this process:
// the TCP proxies of any proxied node links, every node of the config
// (`tessera shard`, in parallel), then the router (`tessera router`), then the
// router's /readyz. `tessera cluster`, the bench script, `tessera chaos` and
// the test harness all start clusters through it. Each child's output can go
// to `<logDir>/<id>.log`; `onLine` sees every line.

export interface LaunchOptions {
  /** Config file the nodes read. */
  configPath: string;
  config: Readonly<Config>;
  /** Config file the router reads (default configPath); it may point at proxies instead of nodes. */
  routerConfigPath?: string;
  /** nodeId → the proxy between the router and that node: the router's config points at listenPort. */
  proxies?: Readonly<Record<string, { listenPort: number; targetPort: number }>>;
  /** Folder for one log file per child (none when absent). */
  logDir?: string;
  /** Extra env for every child (a key set to undefined is removed). */
  env?: NodeJS.ProcessEnv;
  logLevel?: string;
  /** Deadline for each child's ready line, default 60 s. */
  startTimeoutMs?: number;
  /** Wait for the router's /readyz (default true), up to this many ms (default startTimeoutMs). */
  waitReady?: boolean;
  readyTimeoutMs?: number;
  onLine?: (name: string, line: string, stream: 'stdout' | 'stderr') => void;
  /** A child exited after start-up (not during stop()). */
  onExit?: (name: string, how: string) => void;
  /**
   * stop()/kill() found a node of the config running from its data dir that
   * is not our child (e.g. restarted detached by `npm run failover-test`),
   * and ended it.
   */
  onStray?: (nodeId: string, pid: number, how: 'terminated' | 'killed' | 'gone') => void;
  /** Script run instead of bin/tessera.mjs (a stand-in, in tests). */
  entry?: string;
  /** Aborting during start-up stops every child and rejects (Ctrl-C while waiting for readiness). */
  signal?: AbortSignal;
}

export interface RunningCluster {
  routerUrl: string;
  router: ManagedProcess;
  nodes: Record<string, ManagedProcess>;
  proxies: Record<string, TcpProxy>;
  /** Stops the router, then every node: SIGTERM, then SIGKILL after graceMs; closes the proxies. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILLs every child at once and closes the proxies (a test's teardown). */
  kill(): Promise<void>;
}

const graceMsOnAbort = 5_000;

/**
 * Nodes of `config` that run from their data dir (`<dataDir>/<id>/tessera.pid`)
 * but are not one of `ours`: a node restarted outside the launcher. The pid
 * file is trusted only when /proc/<pid>/cmdline is `tessera shard ... <id>`
 * (livePidFromFile), so a PID reused by an unrelated process is never signalled.
 */
export function strayNodes(config: Readonly<Config>, ours: ReadonlyMap<string, ManagedProcess> | Record<string, ManagedProcess>): Array<{ nodeId: string; pid: number }> {
  const mine = ours instanceof Map ? ours : new Map(Object.entries(ours));
  const out: Array<{ nodeId: string; pid: number }> = [];
  for (const shard of config.shards) {
    for (const node of shard.nodes) {
      const pid = livePidFromFile(join(config.dataDir, node.id, 'tessera.pid'), ['shard', node.id]);
      if (pid === null) continue;
      const child = mine.get(node.id);
      if (child?.running && child.pid === pid) continue;
      out.push({ nodeId: node.id, pid });
    }
  }
  return out;
}

/** The spec of one `tessera shard` child (restartable through its ManagedProcess). */
export function nodeSpec(configPath: string, nodeId: string, o: Pick<LaunchOptions, 'env' | 'logLevel' | 'startTimeoutMs' | 'entry'> & { onLine?: ProcessSpec['onLine'] } = {}): ProcessSpec {
  return childSpec(nodeId, ['shard', '--config', configPath, '--node', nodeId], o);
}

/** The spec of one `tessera router` child. */
export function routerSpec(configPath: string, o: Pick<LaunchOptions, 'env' | 'logLevel' | 'startTimeoutMs' | 'entry'> & { name?: string; onLine?: ProcessSpec['onLine'] } = {}): ProcessSpec {
  return childSpec(o.name ?? 'router', ['router', '--config', configPath], o);
}

function childSpec(name: string, args: string[], o: Pick<LaunchOptions, 'env' | 'logLevel' | 'startTimeoutMs' | 'entry'> & { onLine?: ProcessSpec['onLine'] }): ProcessSpec {
  return {
    name,
    args: [...args, ...(o.logLevel ? ['--log-level', o.logLevel] : [])],
    ...(o.env ? { env: o.env } : {}),
    ...(o.entry ? { entry: o.entry } : {}),
    timeoutMs: o.startTimeoutMs ?? 60_000,
    ...(o.onLine ? { onLine: o.onLine } : {}),
  };
}

export async function launchCluster(opts: LaunchOptions): Promise<RunningCluster> {
  if (opts.logDir) mkdirSync(opts.logDir, { recursive: true });
  const files: WriteStream[] = [];
  let stopping = false;
  let started = false;

  const lineSink = (name: string): ProcessSpec['onLine'] => {
    const file = opts.logDir ? createWriteStream(join(opts.logDir, `${name}.log`), { flags: 'a' }) : null;
    if (file) files.push(file);
    if (!file && !opts.onLine) return undefined;
    return (line, stream) => {
      file?.write(`${line}\n`);
      opts.onLine?.(name, line, stream);
    };
  };

  const nodes: Record<string, ManagedProcess> = {};
  for (const shard of opts.config.shards) {
    for (const node of shard.nodes) nodes[node.id] = new ManagedProcess(nodeSpec(opts.configPath, node.id, { ...opts, onLine: lineSink(node.id) }));
  }
  const router = new ManagedProcess(routerSpec(opts.routerConfigPath ?? opts.configPath, { ...opts, onLine: lineSink('router') }));
  const all = [...Object.values(nodes), router];
  const proxies: Record<string, TcpProxy> = {};

  const closeFiles = () => Promise.all(files.splice(0).map((f) => new Promise<void>((r) => f.end(() => r()))));
  const closeProxies = () => Promise.all(Object.values(proxies).map((p) => p.close()));
  // The cluster owns every node of its config that runs from its data dirs,
  // including one restarted detached by the failover script: leaving it
  // behind would hold its port against the next `npm start`.
  const endStrays = (graceMs: number) => Promise.all(strayNodes(opts.config, nodes).map(async ({ nodeId, pid }) => {
    const how = await terminatePid(pid, graceMs);
    opts.onStray?.(nodeId, pid, how);
  }));
  const stop = async (graceMs = 5_000) => {
    stopping = true;
    // Router first: it stops sending writes before the nodes go away.
    await router.stop(graceMs);
    await Promise.all([...Object.values(nodes).map((p) => p.stop(graceMs)), endStrays(graceMs)]);
    await closeProxies();
    await closeFiles();
  };
  const kill = async () => {
    stopping = true;
    await Promise.all([...all.map((p) => p.kill('SIGKILL')), endStrays(0)]);
    await closeProxies();
    await closeFiles();
  };

  const abort = () => {
    // Ending the children makes their pending start() reject at once.
    for (const p of all) void p.stop(graceMsOnAbort);
  };
  opts.signal?.addEventListener('abort', abort, { once: true });
  const routerUrl = opts.config.router.url;
  // A TLS cluster's router is verified against the cluster's CA, like any client would.
  const dispatcher = trustingAgent(configCa(opts.config));
  try {
    if (opts.signal?.aborted) throw new Error('aborted before start-up');
    for (const [id, p] of Object.entries(opts.proxies ?? {})) {
      proxies[id] = await new TcpProxy({ listenPort: p.listenPort, targetPort: p.targetPort }).start();
    }
    await Promise.all(Object.values(nodes).map((p) => p.start()));
    if (opts.signal?.aborted) throw new Error('start-up aborted');
    await router.start();
    if (opts.waitReady ?? true) {
      await waitFor(async () => {
        if (!router.running) throw new Error(`router exited (${describeExit(await router.exited)})`);
        const res = await fetch(`${routerUrl}/readyz`, { signal: AbortSignal.timeout(1_000), ...(dispatcher ? { dispatcher } : {}) });
        await res.arrayBuffer();
        return res.status === 200;
      }, {
        timeoutMs: opts.readyTimeoutMs ?? opts.startTimeoutMs ?? 60_000, intervalMs: 100, message: `${routerUrl}/readyz to answer 200`, signal: opts.signal,
      }).catch((err: Error) => {
        if (opts.signal?.aborted) throw new Error('start-up aborted');
        throw new Error(`${err.message}\nlast router output:\n${router.tail(20)}`);
      });
    }
  } catch (err) {
    await stop();
    throw opts.signal?.aborted ? new Error('start-up aborted') : err;
  } finally {
    opts.signal?.removeEventListener('abort', abort);
    await dispatcher?.close();
  }
  started = true;
  for (const p of all) {
    void p.exited.then((info) => {
      if (started && !stopping) opts.onExit?.(p.name, describeExit(info));
    });
  }
  return { routerUrl, router, nodes, proxies, stop, kill };
}
