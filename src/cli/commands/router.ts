import { resolve } from 'node:path';
import { loadConfigForCli } from '../load-config-or-exit.ts';
import { EXIT, type Command } from '../main.ts';

// `tessera router --config F [--host H] [--log-level L]` (DESIGN §2): one
// router process. Bind host defaults to the host of router.url;
// --host or TESSERA_HOST overrides it (compose binds 0.0.0.0).

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const command: Command = {
  summary: 'run the router (--config F [--host H] [--log-level L])',
  options: {
    config: { type: 'string' },
    host: { type: 'string' },
    'log-level': { type: 'string' },
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
    const host = (typeof values.host === 'string' ? values.host : undefined) ?? (process.env.TESSERA_HOST || undefined);
    const level = typeof values['log-level'] === 'string' ? values['log-level'] : process.env.TESSERA_LOG_LEVEL;
    if (level !== undefined && level !== '' && !LEVELS.includes(level)) {
      process.stderr.write(`tessera router: --log-level must be one of ${LEVELS.join(', ')}\n`);
      return EXIT.usage;
    }
    const { runRouter } = await import('../../../router/main.ts');
    // A start-up failure (port taken) is one line, not a stack trace.
    return runRouter({
      config,
      configPath,
      ...(host ? { host } : {}),
      ...(typeof values['log-level'] === 'string' ? { logLevel: values['log-level'] } : {}),
    }).catch((err: unknown) => {
      process.stderr.write(`tessera router: cannot start: ${(err as Error).message}\n`);
      return EXIT.failed;
    });
  },
};
