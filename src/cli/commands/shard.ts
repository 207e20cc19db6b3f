import { resolve } from 'node:path';
import { findNode } from '../../core/config/index.ts';
import { loadConfigForCli } from '../load-config-or-exit.ts';
import { EXIT, type Command } from '../main.ts';
import { processOptions, processOptionSpecs } from '../process-options.ts';

// `tessera shard --config F --node ID [--data DIR] [--host H] [--log-level L]`
// (DESIGN §2): one shard node. Loaded on demand, so other commands never
// open SQLite.

export const command: Command = {
  summary: 'run one shard node (--config F --node ID [--data DIR] [--host H] [--log-level L])',
  options: {
    config: { type: 'string' },
    node: { type: 'string' },
    data: { type: 'string' },
    ...processOptionSpecs,
  },
  async run(values) {
    const file = typeof values.config === 'string' ? values.config : undefined;
    const nodeId = typeof values.node === 'string' ? values.node : undefined;
    if (!file || !nodeId) {
      process.stderr.write('usage: tessera shard --config F --node ID [--data DIR] [--host H] [--log-level L]\n');
      return EXIT.usage;
    }
    const configPath = resolve(file);
    const config = loadConfigForCli(configPath, 'shard');
    if (!config) return EXIT.usage;
    if (!findNode(config, nodeId)) {
      const known = config.shards.flatMap((s) => s.nodes.map((n) => n.id)).join(', ');
      process.stderr.write(`tessera shard: --node ${nodeId} is not in ${file} (nodes: ${known})\n`);
      return EXIT.usage;
    }
    const proc = processOptions(values);
    if ('error' in proc) {
      process.stderr.write(`tessera shard: ${proc.error}\n`);
      return EXIT.usage;
    }
    const { runShard } = await import('../../../shard/main.ts');
    const sync = process.env.TESSERA_SQLITE_SYNCHRONOUS?.toUpperCase();
    // Start-up failures (port taken, a data dir of another node) are reported
    // in one line, not as a stack trace.
    return runShard({
      config,
      configPath,
      nodeId,
      ...(typeof values.data === 'string' ? { dataDir: resolve(values.data) } : {}),
      ...proc,
      groupCommit: process.env.TESSERA_GROUP_COMMIT !== '0',
      ...(sync === 'NORMAL' || sync === 'OFF' || sync === 'FULL' ? { synchronous: sync } : {}),
    }).catch((err: unknown) => {
      process.stderr.write(`tessera shard: cannot start node ${nodeId}: ${(err as Error).message}\n`);
      return EXIT.failed;
    });
  },
};
