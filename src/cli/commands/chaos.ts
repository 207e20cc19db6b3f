import { join, resolve } from 'node:path';
import type { Command } from '../main.ts';
import { EXIT } from '../main.ts';
import { PACKAGE_ROOT } from '../../launch/package-root.ts';
import { loadConfigForCli } from '../load-config-or-exit.ts';
import { resolveTarget } from '../router-client.ts';
import { FAULT_KINDS, parseDuration, parseFaults } from '../chaos/plan.ts';
import { runChaos, type ChaosResult } from '../chaos/run.ts';

// `tessera chaos [--config F] [--duration 60s] [--faults kill,pause,primary,partition]
//   [--clients 16] [--seed S] [--json] [--data DIR] [--compose [--compose-file F] [--router URL]]`
// (README "tessera chaos"). Exit 0 when no acknowledged write was lost, the
// history is linearizable and every shard converged; 1 when one of them was
// contradicted (each violation is named); 2 usage or config; 3 nothing
// contradicted but something could not be proven (the checker's budget ran
// out on a key, or a copy could not be compared).

export const command: Command = {
  summary: 'the operator\'s own fault run: load + seeded faults on a throw-away copy of the cluster, then proves no acked write lost, linearizable, converged',
  options: {
    config: { type: 'string' },
    duration: { type: 'string' },
    faults: { type: 'string' },
    clients: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
    data: { type: 'string' },
    compose: { type: 'boolean' },
    'compose-file': { type: 'string' },
    router: { type: 'string' },
    secret: { type: 'string' },
    token: { type: 'string' },
  },
  async run(values) {
    const usage = (msg: string) => {
      process.stderr.write(`tessera chaos: ${msg}\n`);
      return EXIT.usage;
    };
    const durationMs = parseDuration(String(values.duration ?? '60s'));
    if (durationMs === null || durationMs < 3000) return usage('--duration takes a time of at least 3s: 60s, 2m, 90000ms');
    const faults = parseFaults(String(values.faults ?? FAULT_KINDS.join(',')));
    if (typeof faults === 'string') return usage(`--faults: ${faults}`);
    const clients = Number(values.clients ?? 16);
    if (!Number.isSafeInteger(clients) || clients < 1 || clients > 256) return usage('--clients takes 1..256');
    const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
    if (!Number.isSafeInteger(seed) || seed < 0) return usage('--seed takes a non-negative integer');
    const compose = values.compose === true;
    const configPath = resolve(typeof values.config === 'string' ? values.config : join(PACKAGE_ROOT, 'config', compose ? 'docker.json' : 'local.json'));
    const config = loadConfigForCli(configPath, 'chaos');
    if (!config) return EXIT.usage;
    const small = config.shards.filter((s) => s.nodes.length < 3).map((s) => s.id);
    if (faults.length > 0 && small.length === config.shards.length) return usage(`no shard has 3 or more nodes: a fault would take down a majority (shards ${small.join(', ')})`);
    if (compose && faults.includes('partition')) return usage('--compose cannot cut links (no proxy in the compose network): leave partition out of --faults');
    if (compose && values.data !== undefined) return usage('--data is for local runs: a compose cluster keeps its own volumes');
    let composeTarget;
    if (compose) {
      const t = resolveTarget({ router: (values.router as string | undefined) ?? 'http://127.0.0.1:8080', secret: values.secret as string | undefined }, config);
      if (!t.secret) return usage('no cluster secret for the verify step: pass --secret or set TESSERA_SECRET');
      const token = (values.token as string | undefined) || process.env.TESSERA_TOKEN || undefined;
      if (config.auth && !token) return usage('the config guards the client API (auth): pass --token or set TESSERA_TOKEN (an admin token: the run creates its db)');
      composeTarget = { file: resolve(String(values['compose-file'] ?? join(PACKAGE_ROOT, 'docker-compose.replication.yml'))), routerUrl: t.url, secret: t.secret, ...(token ? { token } : {}) };
    }
    const json = values.json === true;
    const tty = Boolean(process.stderr.isTTY);
    let lastProgress = 0;
    const say = (line: string) => process.stderr.write(`${line}\n`);
    say(`tessera chaos: ${config.shards.length} shards × ${config.shards.map((s) => s.nodes.length).join('/')} nodes, ${durationMs / 1000}s, faults ${faults.join(',') || 'none'}, ${clients} clients, seed ${seed} (replay: --seed ${seed})`);
    let result: ChaosResult;
    try {
      result = await runChaos({
        config, durationMs, faults, clients, seed,
        ...(typeof values.data === 'string' ? { dataDir: resolve(values.data) } : {}),
        ...(composeTarget ? { compose: composeTarget } : {}),
        ...(process.env.TESSERA_CHAOS_FRONT ? { front: process.env.TESSERA_CHAOS_FRONT } : {}),
        progress: (line) => {
          // One line rewritten in place on a terminal; elsewhere a line every 5 s.
          if (tty) process.stderr.write(`\r\u001b[2K${line}`);
          else if (Date.now() - lastProgress >= 5000) {
            lastProgress = Date.now();
            say(line);
          }
        },
        log: say,
      });
    } catch (err) {
      if (tty) process.stderr.write('\n');
      say(`tessera chaos: FAILED: ${(err as Error).message}`);
      return EXIT.failed;
    }
    if (tty) process.stderr.write('\n');
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else process.stdout.write(formatResult(result));
    return result.verdict.pass ? EXIT.ok : result.verdict.violation ? EXIT.failed : 3;
  },
};

const t = (ms: number) => `[${(ms / 1000).toFixed(2).padStart(7)}s]`;

export function formatResult(r: ChaosResult): string {
  const s = r.stats;
  const out: string[] = ['timeline:'];
  for (const e of r.timeline) out.push(`  ${t(e.atMs)} ${e.text}`);
  out.push('figures:');
  out.push(`  acknowledged writes      ${s.acked} (${s.ackedFresh} fresh documents, ${s.acked - s.ackedFresh} compare-and-set), ${s.deletesAcked} deletes, ${s.reads} reads`);
  out.push(`  failed / indeterminate   ${s.failed} / ${s.indeterminate} (409 conflicts, expected under CAS: ${s.conflicts})`);
  out.push(`  lost acknowledged writes ${r.lost.length}`);
  out.push(`  longest write gap        ${r.longestWriteGap.ms} ms (shard ${r.longestWriteGap.shard})`);
  if (r.faults.length > 0) {
    out.push('  unavailability per fault (longest time without a successful write to the shard):');
    for (const f of r.faults) out.push(`    ${t(f.startMs)} ${f.step.kind.padEnd(9)} ${f.victim.padEnd(8)} shard ${f.step.shard}  held ${f.step.holdMs} ms  unavailable ${f.unavailableMs} ms`);
  }
  out.push('verdict:');
  out.push(`  ${r.verdict.lost ? 'OK       ' : 'VIOLATION'} no acknowledged write lost (${s.ackedFresh} fresh documents read back${r.lost.length ? `; lost: ${r.lost.slice(0, 10).join('; ')}` : ''})`);
  const lin = r.linearizable;
  out.push(`  ${lin.status === 'ok' ? 'OK       ' : lin.status === 'violation' ? 'VIOLATION' : 'UNPROVEN '} linearizable: ${lin.keys} documents, ${lin.ops} operations (checker: ${lin.status})`);
  if (lin.status !== 'ok') out.push(lin.report.split('\n').map((l) => `      ${l}`).join('\n'));
  for (const c of r.converged) {
    const tag = c.consistent ? 'OK       ' : c.divergent > 0 ? 'VIOLATION' : 'UNPROVEN ';
    out.push(`  ${tag} converged: shard ${c.shard}${c.seq !== null ? ` at seq ${c.seq}` : ''}: ${c.consistent ? 'every copy equal' : c.detail}`);
  }
  const code = r.verdict.pass ? 0 : r.verdict.violation ? 1 : 3;
  out.push(`${r.verdict.pass ? 'PASS' : r.verdict.violation ? 'FAIL' : 'UNPROVEN'} (exit ${code}; seed ${r.seed}${r.dataDir ? `; data and logs kept in ${r.dataDir}` : ''})`);
  return `${out.join('\n')}\n`;
}
