import { join } from 'node:path';
import type { Command } from '../main.ts';
import { EXIT } from '../main.ts';
import { PACKAGE_ROOT } from '../../launch/package-root.ts';
import { loadConfigForCli } from '../load-config-or-exit.ts';
import { describeAnswer, resolveTarget, routerRequest, type RouterTarget } from '../router-client.ts';
import { formatRepairs, formatShardReport, reportExit, type RepairInfo, type ShardReport } from '../verify-report.ts';

// `tessera verify [--router URL] [--shard N] [--repair] [--json]`
// (router/VERIFY.md): for each shard, GET /v1/_cluster/shards/N/verify (or
// POST .../repair with --repair) and print what each copy holds of every
// document that differs. Exit 0 every copy of every shard compared and
// equal, 1 a divergence (left after --repair) or a failed request, 2 usage,
// 3 nothing divergent but some copy could not be compared (down, behind).

const TIMEOUT_MS = 120_000;

export const command: Command = {
  summary: 'anti-entropy: compare every copy of each shard at one seq, name divergent documents; --repair makes them equal through the log',
  options: {
    router: { type: 'string' },
    config: { type: 'string' },
    secret: { type: 'string' },
    shard: { type: 'string' },
    depth: { type: 'string' },
    repair: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(values) {
    const shardArg = values.shard;
    if (shardArg !== undefined && !/^\d+$/.test(String(shardArg))) {
      process.stderr.write('tessera verify: --shard N takes a shard id (0, 1, ...)\n');
      return EXIT.usage;
    }
    if (values.depth !== undefined && !/^([4-9]|1[0-6])$/.test(String(values.depth))) {
      process.stderr.write('tessera verify: --depth takes 4..16\n');
      return EXIT.usage;
    }
    const nothingGiven = values.config === undefined && values.router === undefined && !values.secret && !process.env.TESSERA_SECRET;
    const configFile = typeof values.config === 'string' ? values.config : nothingGiven ? join(PACKAGE_ROOT, 'config', 'local.json') : undefined;
    let config = null;
    if (configFile !== undefined) {
      config = loadConfigForCli(configFile, 'verify');
      if (!config) return EXIT.usage;
    }
    const target = resolveTarget({ router: values.router as string | undefined, secret: values.secret as string | undefined }, config);
    if (!target.secret) {
      process.stderr.write('tessera verify: no cluster secret: pass --secret, set TESSERA_SECRET, or pass --config\n');
      return EXIT.usage;
    }
    const fail = (msg: string) => {
      process.stderr.write(`tessera verify: ${msg}\n`);
      return EXIT.failed;
    };
    let shards: number[];
    try {
      shards = shardArg !== undefined ? [Number(shardArg)] : await listShards(target);
    } catch (err) {
      return fail((err as Error).message);
    }
    const query = values.depth !== undefined ? `?depth=${values.depth}` : '';
    let worst = 0;
    const results: unknown[] = [];
    for (const shard of shards) {
      let answer;
      try {
        answer = values.repair
          ? await routerRequest(target, { method: 'POST', path: `/v1/_cluster/shards/${shard}/repair${query}`, body: {}, auth: true, timeoutMs: TIMEOUT_MS })
          : await routerRequest(target, { path: `/v1/_cluster/shards/${shard}/verify${query}`, auth: true, timeoutMs: TIMEOUT_MS });
      } catch (err) {
        return fail((err as Error).message);
      }
      if (answer.status !== 200) {
        results.push({ shard, error: answer.body });
        if (!values.json) process.stderr.write(`tessera verify: shard ${shard}: ${describeAnswer(answer)}\n`);
        worst = Math.max(worst, 1);
        continue;
      }
      results.push(answer.body);
      let final: ShardReport;
      if (values.repair) {
        const b = answer.body as { before: ShardReport; repairs: RepairInfo[]; after: ShardReport };
        final = b.after;
        if (!values.json) {
          process.stdout.write(formatShardReport(b.before));
          process.stdout.write(formatRepairs(shard, b.repairs));
          if (b.repairs.length > 0) process.stdout.write(`after repair: ${formatShardReport(b.after)}`);
        }
      } else {
        final = answer.body as ShardReport;
        if (!values.json) process.stdout.write(formatShardReport(final));
      }
      const code = reportExit(final);
      // 1 (divergent) outranks 3 (incomplete).
      if (code === 1 || (code === 3 && worst === 0)) worst = code;
    }
    if (values.json) process.stdout.write(`${JSON.stringify(shardArg !== undefined ? results[0] : results, null, 2)}\n`);
    return worst;
  },
};

async function listShards(target: RouterTarget): Promise<number[]> {
  const answer = await routerRequest(target, { path: '/v1/_cluster', timeoutMs: 5_000 });
  const shards = (answer.body as { shards?: Array<{ id: number }> } | null)?.shards;
  if (answer.status !== 200 || !Array.isArray(shards)) throw new Error(`GET /v1/_cluster: ${describeAnswer(answer)}`);
  return shards.map((s) => s.id);
}
