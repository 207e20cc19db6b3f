import { parseArgs, type ParseArgsConfig } from 'node:util';

// The `tessera` CLI (DESIGN §2, contract). Each command lives in its own
// module and is loaded on demand, so `tessera status` does not pay for SQLite.

export interface Command {
  summary: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

export const COMMANDS: Record<string, () => Promise<Command>> = {
  cluster: async () => (await import('./commands/cluster.ts')).command,
  router: async () => (await import('./commands/router.ts')).command,
  shard: async () => (await import('./commands/shard.ts')).command,
  status: async () => (await import('./commands/status.ts')).command,
  failover: async () => (await import('./commands/failover.ts')).command,
  bench: async () => (await import('./commands/bench.ts')).command,
  verify: async () => (await import('./commands/verify.ts')).command,
  chaos: async () => (await import('./commands/chaos.ts')).command,
  'check-config': async () => (await import('./commands/check-config.ts')).command,
  'k8s-config': async () => (await import('./commands/k8s-config.ts')).command,
  token: async () => (await import('./commands/token.ts')).command,
  certs: async () => (await import('./commands/certs.ts')).command,
  backup: async () => (await import('./commands/backup.ts')).command,
  restore: async () => (await import('./commands/restore.ts')).command,
};

/** Exit codes: 0 ok, 1 the operation failed, 2 usage or config error (verify and chaos add 3: not everything could be checked). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    await printHelp();
    return name ? EXIT.ok : EXIT.usage;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`tessera: unknown command '${name}'\n`);
    await printHelp();
    return EXIT.usage;
  }
  const command = await load();
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`tessera ${name}: ${(err as Error).message}\n`);
    return EXIT.usage;
  }
  if (parsed.values.help) {
    process.stdout.write(`tessera ${name}: ${command.summary}\n${formatOptions(command.options)}`);
    return EXIT.ok;
  }
  return command.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
}

function formatOptions(options: Command['options']): string {
  return Object.entries(options).map(([k, o]) => `  --${k}${o.type === 'string' ? ' <value>' : ''}\n`).join('');
}

async function printHelp(): Promise<void> {
  const lines = ['usage: tessera <command> [options]', '', 'commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) {
    try {
      lines.push(`  ${name.padEnd(14)} ${(await load()).summary}`);
    } catch {
      lines.push(`  ${name}`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
