import type { Command } from '../main.ts';
import { EXIT } from '../main.ts';
import { asClusterInfo, renderClusterTable } from '../cluster-table.ts';
import { loadConfigForCli } from '../load-config-or-exit.ts';
import { describeAnswer, resolveTarget, routerRequest } from '../router-client.ts';
import { useColor } from '../table.ts';

// `tessera status [--router URL] [--config F] [--json]`: the cluster table
// from the router's GET /v1/_cluster (open endpoint, no secret needed).

export const command: Command = {
  summary: 'print the cluster table: per node role, term, lastSeq, lag, health, commitSeq, rollbacks; per shard commit point, paused writes, last election',
  options: {
    router: { type: 'string' },
    config: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values) {
    let config = null;
    if (typeof values.config === 'string') {
      config = loadConfigForCli(values.config, 'status');
      if (!config) return EXIT.usage;
    }
    const target = resolveTarget({ router: values.router as string | undefined }, config);
    let answer;
    try {
      answer = await routerRequest(target, { path: '/v1/_cluster', timeoutMs: 5_000 });
    } catch (err) {
      process.stderr.write(`tessera status: ${(err as Error).message}\n`);
      return EXIT.failed;
    }
    if (answer.status !== 200) {
      process.stderr.write(`tessera status: ${describeAnswer(answer)}\n`);
      return EXIT.failed;
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(answer.body, null, 2)}\n`);
      return EXIT.ok;
    }
    try {
      process.stdout.write(renderClusterTable(asClusterInfo(answer.body), useColor(process.stdout)));
    } catch (err) {
      process.stderr.write(`tessera status: ${(err as Error).message}\n`);
      return EXIT.failed;
    }
    return EXIT.ok;
  },
};
