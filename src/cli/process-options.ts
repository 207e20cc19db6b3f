// Options every server process takes the same way (DESIGN §2): the bind
// host (--host, else TESSERA_HOST) and the log level (--log-level, else
// TESSERA_LOG_LEVEL). Validated here so `router` and `shard` refuse a bad
// level with the same message.

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const processOptionSpecs = {
  host: { type: 'string' },
  'log-level': { type: 'string' },
} as const;

export type ProcessOptions = { host?: string; logLevel?: string };

/** The process options, or an error line for stderr. */
export function processOptions(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): ProcessOptions | { error: string } {
  const host = (typeof values.host === 'string' ? values.host : undefined) ?? (env.TESSERA_HOST || undefined);
  const given = typeof values['log-level'] === 'string' ? values['log-level'] : undefined;
  const level = given ?? env.TESSERA_LOG_LEVEL;
  if (level !== undefined && level !== '' && !(LOG_LEVELS as readonly string[]).includes(level)) {
    return { error: `--log-level must be one of ${LOG_LEVELS.join(', ')}` };
  }
  // Only an explicit --log-level is passed on: the logger reads TESSERA_LOG_LEVEL itself.
  return { ...(host ? { host } : {}), ...(given ? { logLevel: given } : {}) };
}
