import { resolve } from 'node:path';
import { loadConfigForCli } from '../load-config-or-exit.ts';
import { EXIT, type Command } from '../main.ts';
import { processOptions, processOptionSpecs } from '../process-options.ts';

// `tessera router --config F [--host H] [--log-level L]` (DESIGN §2): one
// router process. Bind host defaults to the host of router.url;
// --host or TESSERA_HOST overrides it (compose binds 0.0.0.0).

export const command: Command = {
  summary: 'run the router (--config F [--host H] [--log-level L])',
  options: {
    config: { type: 'string' },
    ...processOptionSpecs,
  },
  async run(values) {
    const file = typeof values.config === 'string' ? values.config : undefined;
    if (!file) {
      process.stderr.write('usage: tessera router --config F [--host H] [--log-level L]\n');
      return EXIT.usage;
    }
    const configPath = resolve(file);
    const config = loadConfigForCli(configPath, 'router');
    if (!config) return EXIT.usage;
    const proc = processOptions(values);
    if ('error' in proc) {
      process.stderr.write(`tessera router: ${proc.error}\n`);
      return EXIT.usage;
    }
    const { runRouter } = await import('../../../router/main.ts');
    // A start-up failure (port taken) is one line, not a stack trace.
    return runRouter({
      config,
      configPath,
      ...proc,
    }).catch((err: unknown) => {
      process.stderr.write(`tessera router: cannot start: ${(err as Error).message}\n`);
      return EXIT.failed;
    });
  },
};
