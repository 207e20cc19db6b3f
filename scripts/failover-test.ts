// `npm run failover-test -- --router URL --config F [--compose] [--shard N]`
// (DESIGN §7): the failover demo an operator runs against a live cluster.
//  1. write a known set of documents to shard N (ids chosen to hash there)
//  2. find shard N's primary (GET /v1/_cluster) and kill it: local, SIGKILL to
//     the PID in <dataDir>/<id>/tessera.pid; compose, `docker compose kill`
//  3. keep writing while polling until a new primary with a higher term appears
//  4. restart the old node (local: `tessera shard` detached, log in its data
//     dir; compose: `docker compose start`) and wait until it is an InSync replica
//  5. read back every acknowledged write (through the router, and locally also
//     straight from every node of the shard once their logs converged)
// Each step prints its time since the start. Exit 0 when every acknowledged
// write is there, 1 on any violation or a step that times out, 2 on usage.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Pool } from 'undici';
import { configCa } from '../src/core/http/tls.ts';
import { ConfigError, loadConfig, type Config } from '../src/core/config/index.ts';
import { bearer } from '../src/core/http/auth.ts';
import { TESSERA_BIN } from '../src/launch/managed-process.ts';
import { PACKAGE_ROOT } from '../src/launch/package-root.ts';
import { waitFor } from '../src/launch/wait-for.ts';
import { livePidFromFile } from '../src/launch/pid-file.ts';
import {
  findShard, idsOnShard, newPrimaryElected, readBackViolations, rejoinedAsReplica, shardConverged, unavailabilityMs,
  type ReadBack, type ShardInfo,
} from '../src/cli/failover-checks.ts';

const USAGE = 'usage: npm run failover-test -- --config F [--router URL] [--compose] [--shard N] [--docs 100] [--keep-writing-ms 3000] [--timeout-ms 60000]';
const MAX_BACKGROUND_WRITES = 5_000;

const t0 = performance.now();
const say = (msg: string) => process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(2).padStart(7)}s] ${msg}\n`);
const fail = (msg: string): never => {
  throw new StepError(msg);
};
class StepError extends Error {}

let args;
try {
  args = parseArgs({
    options: {
      router: { type: 'string' },
      config: { type: 'string' },
      compose: { type: 'boolean', default: false },
      'compose-file': { type: 'string' },
      shard: { type: 'string', default: '0' },
      docs: { type: 'string', default: '100' },
      'keep-writing-ms': { type: 'string', default: '3000' },
      'timeout-ms': { type: 'string', default: '60000' },
      keep: { type: 'boolean', default: false },
    },
  }).values;
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
const shardId = Number(args.shard);
const docCount = Number(args.docs);
const keepWritingMs = Number(args['keep-writing-ms']);
const timeoutMs = Number(args['timeout-ms']);
if (!args.config || ![shardId, docCount, keepWritingMs, timeoutMs].every((n) => Number.isSafeInteger(n) && n >= 0)) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
let config: Readonly<Config>;
const configPath = resolve(args.config);
try {
  config = loadConfig(configPath);
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
  process.exit(2);
}
if (!config.shards[shardId]) {
  process.stderr.write(`no shard ${shardId} in ${configPath} (shards 0..${config.shards.length - 1})\n`);
  process.exit(2);
}
const compose = args.compose === true;
const composeFile = resolve(args['compose-file'] ?? join(PACKAGE_ROOT, 'docker-compose.replication.yml'));
// In compose the config's router URL (http://router:8080) only resolves inside the network.
const routerUrl = (args.router ?? (compose ? 'http://127.0.0.1:8080' : config.router.url)).replace(/\/+$/, '');
const secret = config.cluster.secret;
const shardCount = config.shards.length;
const writeDeadlineMs = config.replication.writeTimeoutMs + 2_000;
// A TLS cluster is verified against its CA; a client token (TESSERA_TOKEN) opens an auth-guarded router.
const ca = configCa(config);
const token = process.env.TESSERA_TOKEN || undefined;
const router = new Pool(routerUrl, { connections: 16, ...(ca ? { connect: { ca } } : {}) });
const db = `failover_${Date.now().toString(36)}`;
const ids = idsOnShard(`ft-${Date.now().toString(36)}`, shardId, shardCount);

/** Acknowledged writes: id → rev the router answered with. */
const acked = new Map<string, string>();
const writes: Array<{ startMs: number; ok: boolean }> = [];
const errorKinds = new Map<string, number>();

async function http(pool: Pool, method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown, auth = false): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (auth) headers.authorization = bearer(secret);
  else if (token && pool === router) headers.authorization = bearer(token);
  const res = await pool.request({
    method, path, headers, body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: writeDeadlineMs, bodyTimeout: writeDeadlineMs, signal: AbortSignal.timeout(writeDeadlineMs),
  });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch { /* keep text */ }
  return { status: res.statusCode, body: parsed };
}

async function clusterShard(): Promise<ShardInfo | undefined> {
  const r = await http(router, 'GET', '/v1/_cluster');
  return r.status === 200 ? findShard(r.body, shardId) : undefined;
}

/** One write of a fresh id; acknowledged writes go into `acked`. */
async function writeOne(phase: string): Promise<boolean> {
  const id = ids.next().value as string;
  const startMs = performance.now();
  let ok = false;
  try {
    const r = await http(router, 'PUT', `/v1/db/${db}/docs/${id}`, { data: { phase, at: Date.now() } });
    if (r.status === 200 || r.status === 201) {
      acked.set(id, r.body.rev);
      ok = true;
    } else {
      const kind = `${r.status} ${r.body?.error ?? ''}`.trim();
      errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
    }
  } catch (err) {
    const kind = `network ${(err as { code?: string }).code ?? (err as Error).name}`;
    errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
  }
  writes.push({ startMs, ok });
  return ok;
}

/** `clients` loops writing until stop() or MAX_BACKGROUND_WRITES; stop() waits for in-flight writes. */
function backgroundWriter(phase: string, clients = 4) {
  let stopped = false;
  let count = 0;
  const loops = Array.from({ length: clients }, async () => {
    while (!stopped && count < MAX_BACKGROUND_WRITES) {
      count++;
      await writeOne(phase);
    }
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

function pidOf(nodeId: string): number {
  const file = join(config.dataDir, nodeId, 'tessera.pid');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return fail(`cannot read ${file}: ${(err as Error).message} (is ${nodeId} a local node started with this config?)`);
  }
  // Only a live `tessera shard` of this node: a stale file may name a reused PID.
  const pid = livePidFromFile(file, ['shard', nodeId]);
  if (pid === null) fail(`${nodeId}: ${file} (${JSON.stringify(text.trim())}) names no running \`tessera shard ... ${nodeId}\` process`);
  return pid!;
}

const dockerCompose = (...a: string[]) => promisify(execFile)('docker', ['compose', '-f', composeFile, ...a]);

async function killNode(nodeId: string): Promise<void> {
  if (compose) {
    await dockerCompose('kill', nodeId);
    return;
  }
  const pid = pidOf(nodeId);
  process.kill(pid, 'SIGKILL');
  await waitFor(() => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, { timeoutMs: 5_000, message: `PID ${pid} to exit` });
}

async function restartNode(nodeId: string): Promise<string> {
  if (compose) {
    await dockerCompose('start', nodeId);
    return `docker compose start ${nodeId}`;
  }
  const dir = join(config.dataDir, nodeId);
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'tessera.log');
  const fd = openSync(logFile, 'a');
  // Detached with its own log: it stays up as part of the cluster after this script ends.
  const child = spawn(process.execPath, [TESSERA_BIN, 'shard', '--config', configPath, '--node', nodeId], { detached: true, stdio: ['ignore', fd, fd] });
  child.unref();
  closeSync(fd);
  return `pid ${child.pid}, log ${logFile}`;
}

async function readAllThrough(pool: Pool, where: string, auth: boolean): Promise<string[]> {
  const read = new Map<string, ReadBack>();
  const todo = [...acked.keys()];
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
      try {
        const r = await http(pool, 'GET', `/v1/db/${db}/docs/${id}`, undefined, auth);
        read.set(id, { status: r.status, rev: r.body?.rev });
      } catch (err) {
        read.set(id, { status: 0, rev: `unreachable: ${(err as Error).message}` });
      }
    }
  }));
  return readBackViolations(acked, read, where);
}

let exitCode = 0;
let violations: string[] = [];
try {
  say(`failover test: shard ${shardId} of ${shardCount}, router ${routerUrl}, ${compose ? `compose (${composeFile})` : `local (${configPath})`}`);
  await waitFor(async () => (await http(router, 'GET', '/readyz')).status === 200, { timeoutMs, intervalMs: 250, message: `${routerUrl}/readyz` })
    .catch((err: Error) => fail(err.message));
  const created = await http(router, 'PUT', `/v1/db/${db}`);
  if (created.status !== 201 && created.status !== 200) fail(`PUT /v1/db/${db} answered ${created.status} ${JSON.stringify(created.body)}`);
  say(`created db ${db}`);

  // 1. The known set, written before any fault: every one must succeed.
  const todo = Array.from({ length: docCount }, (_, i) => i);
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (todo.pop() !== undefined) if (!(await writeOne('before'))) fail(`a write before the fault failed: ${[...errorKinds.keys()].join(', ')}`);
  }));
  say(`wrote ${acked.size} documents to shard ${shardId}`);

  // 2. Kill the primary.
  const before = await clusterShard();
  if (!before?.primaryId) fail(`shard ${shardId} has no primary in /v1/_cluster`);
  const victim = { primaryId: before!.primaryId!, term: before!.term };
  say(`shard ${shardId}: primary ${victim.primaryId} at term ${victim.term}; killing it`);
  const writer = backgroundWriter('during');
  const killAt = performance.now();
  await killNode(victim.primaryId);
  say(`killed ${victim.primaryId}`);

  // 3. Election, with writes going on.
  const after = await waitFor(async () => {
    const s = await clusterShard();
    return newPrimaryElected(victim, s) ? s : null;
  }, { timeoutMs, intervalMs: 100, message: `a new primary of shard ${shardId} with a term above ${victim.term}` }).catch((err: Error) => fail(err.message));
  say(`new primary ${after.primaryId} at term ${after.term}, ${Math.round(performance.now() - killAt)} ms after the kill`);
  const okBefore = acked.size;
  const keepUntil = performance.now() + keepWritingMs;
  await waitFor(() => performance.now() >= keepUntil || acked.size >= okBefore + MAX_BACKGROUND_WRITES / 2, { timeoutMs: keepWritingMs + 1_000, intervalMs: 100 });
  say(`writes continue: ${acked.size - okBefore} acknowledged since the new primary`);

  // 4. Bring the old primary back; it must rejoin as a replica.
  say(`restarting ${victim.primaryId}: ${await restartNode(victim.primaryId)}`);
  await waitFor(async () => rejoinedAsReplica(await clusterShard(), victim.primaryId), { timeoutMs, intervalMs: 200, message: `${victim.primaryId} to be an InSync replica` })
    .catch((err: Error) => fail(err.message));
  say(`${victim.primaryId} rejoined as an InSync replica`);
  await writer.stop();
  const window = unavailabilityMs(killAt, writes);
  const failed = [...errorKinds].map(([k, n]) => `${n} × ${k}`).join(', ') || 'none';
  say(`writer stopped: ${acked.size} acknowledged writes in all; failed or indeterminate: ${failed}; writes unavailable for ${window === null ? '?' : `${Math.round(window)} ms`}`);

  // 5. Every acknowledged write must be there.
  violations = await readAllThrough(router, 'router', false);
  say(`read back ${acked.size} acknowledged writes through the router: ${violations.length} missing or wrong`);
  if (!compose && violations.length === 0) {
    await waitFor(async () => shardConverged(await clusterShard()), { timeoutMs, intervalMs: 200, message: `every node of shard ${shardId} to report the same lastSeq` })
      .catch((err: Error) => fail(err.message));
    for (const node of config.shards[shardId]!.nodes) {
      const pool = new Pool(node.url, { connections: 16, ...(ca ? { connect: { ca } } : {}) });
      try {
        const v = await readAllThrough(pool, node.id, true);
        violations.push(...v);
        say(`read back ${acked.size} acknowledged writes from ${node.id} directly: ${v.length} missing or wrong`);
      } finally {
        await pool.close();
      }
    }
  }
  if (violations.length > 0) {
    exitCode = 1;
    for (const v of violations.slice(0, 50)) say(`VIOLATION ${v}`);
    say(`FAILED: ${violations.length} violation(s); db ${db} kept for inspection`);
  } else {
    say(`OK: no acknowledged write lost`);
    if (!args.keep) await http(router, 'DELETE', `/v1/db/${db}`).catch(() => undefined);
  }
} catch (err) {
  exitCode = 1;
  say(`FAILED: ${err instanceof StepError ? err.message : (err as Error).stack ?? String(err)}`);
} finally {
  await router.close();
}
process.exit(exitCode);
