import { ConfigError, loadConfig, type Config } from '../core/config/index.ts';

/**
 * Loads a config for a CLI command. On a config error every problem is
 * printed by path on stderr and the result is null (the command exits 2).
 */
export function loadConfigForCli(file: string, command: string): Readonly<Config> | null {
  try {
    return loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`tessera ${command}: ${err.message}\n`);
    return null;
  }
}
