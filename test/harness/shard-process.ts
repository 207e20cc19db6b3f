import { ManagedProcess } from '../../src/launch/managed-process.ts';

// One `tessera shard` child for single-node tests (durability, the bench).
// The general multi-process harness lives in test/harness/cluster.ts.

export interface ShardProcessOptions {
  configPath: string;
  nodeId: string;
  /** --data; default `<config dataDir>/<nodeId>`. */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  logLevel?: string;
  /** Echo the child's output (debugging a test). */
  echo?: boolean;
}

/** A not-yet-started node process; `start()` resolves on its `listening` line. */
export function shardProcess(opts: ShardProcessOptions): ManagedProcess {
  const args = ['shard', '--config', opts.configPath, '--node', opts.nodeId, '--log-level', opts.logLevel ?? 'info'];
  if (opts.dataDir) args.push('--data', opts.dataDir);
  return new ManagedProcess({
    name: opts.nodeId,
    args,
    env: { TESSERA_LOG_LEVEL: undefined, TESSERA_SECRET: undefined, TESSERA_DATA_DIR: undefined, ...opts.env },
    ...(opts.echo ? { onLine: (line: string) => process.stderr.write(`[${opts.nodeId}] ${line}\n`) } : {}),
  });
}
