import { resolve } from 'node:path';
import type { Command } from '../main.ts';
import { EXIT } from '../main.ts';
import { loadConfigForCli } from '../load-config-or-exit.ts';
import { describeTopology } from '../topology-summary.ts';

// `tessera check-config F`: validates a config file as every process would
// (env overrides included) and prints the topology; the secret never shows.

export const command: Command = {
  summary: 'validate a config file and print its topology (exit 2 with every problem by path)',
  options: {
    config: { type: 'string' },
  },
  async run(values, positionals) {
    const file = positionals[0] ?? (typeof values.config === 'string' ? values.config : undefined);
    if (!file || positionals.length > 1) {
      process.stderr.write('usage: tessera check-config <config.json>\n');
      return EXIT.usage;
    }
    const path = resolve(file);
    const config = loadConfigForCli(path, 'check-config');
    if (!config) return EXIT.usage;
    process.stdout.write(`${path}: ok\n${describeTopology(config)}`);
    return EXIT.ok;
  },
};
