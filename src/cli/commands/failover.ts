import type { Command } from '../main.ts';
import { EXIT } from '../main.ts';
import { join } from 'node:path';
import { loadConfigForCli } from '../load-config-or-exit.ts';
import { PACKAGE_ROOT } from '../../launch/package-root.ts';
import { describeAnswer, resolveTarget, routerRequest } from '../router-client.ts';

// `tessera failover --shard N [--to ID]`: asks the router to switch the
// shard's primary now (POST /v1/_cluster/shards/N/failover, with the secret).

export const command: Command = {
  summary: 'switch a shard\'s primary now (to --to ID, else the most up-to-date replica)',
  options: {
    shard: { type: 'string' },
    to: { type: 'string' },
    router: { type: 'string' },
    secret: { type: 'string' },
    config: { type: 'string' },
  },
  async run(values) {
    const shard = typeof values.shard === 'string' && /^\d+$/.test(values.shard) ? Number(values.shard) : NaN;
    if (!Number.isSafeInteger(shard)) {
      process.stderr.write('tessera failover: --shard N is required (a shard id: 0, 1, ...)\n');
      return EXIT.usage;
    }
    // With nothing to go on, the target is the embedded default cluster (`npm start`): its router and secret.
    const nothingGiven = values.config === undefined && values.router === undefined && !values.secret && !process.env.TESSERA_SECRET;
    const configFile = typeof values.config === 'string' ? values.config : nothingGiven ? join(PACKAGE_ROOT, 'config', 'local.json') : undefined;
    let config = null;
    if (configFile !== undefined) {
      config = loadConfigForCli(configFile, 'failover');
      if (!config) return EXIT.usage;
    }
    const target = resolveTarget({ router: values.router as string | undefined, secret: values.secret as string | undefined }, config);
    if (!target.secret) {
      process.stderr.write('tessera failover: no cluster secret: pass --secret, set TESSERA_SECRET, or pass --config\n');
      return EXIT.usage;
    }
    const body = typeof values.to === 'string' ? { to: values.to } : {};
    let answer;
    try {
      // An election takes a few health intervals; allow well beyond that.
      answer = await routerRequest(target, { method: 'POST', path: `/v1/_cluster/shards/${shard}/failover`, body, auth: true, timeoutMs: 30_000 });
    } catch (err) {
      process.stderr.write(`tessera failover: ${(err as Error).message}\n`);
      return EXIT.failed;
    }
    if (answer.status < 200 || answer.status >= 300) {
      process.stderr.write(`tessera failover: ${describeAnswer(answer)}\n`);
      return EXIT.failed;
    }
    const b = answer.body as { shard?: unknown; primary?: unknown; term?: unknown };
    process.stdout.write(`${JSON.stringify({ shard: b.shard, primary: b.primary, term: b.term })}\n`);
    return EXIT.ok;
  },
};
