import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkDocHistory } from '../../check/index.ts';
import { parseConfig, type Config } from '../../core/config/index.ts';
import { withProxiedNodes, type RawConfig } from '../../core/config/template.ts';
import { bearer } from '../../core/http/auth.ts';
import { launchCluster, type RunningCluster } from '../../launch/cluster.ts';
import { freePorts } from '../../launch/free-ports.ts';
import { ManagedProcess } from '../../launch/managed-process.ts';
import { waitFor } from '../../launch/wait-for.ts';
import { ChaosLoad, DB } from './load.ts';
import { composeCommands, longestGapMs, planSchedule, type FaultKind, type FaultStep } from './plan.ts';

// `tessera chaos` (README "tessera chaos"): a throw-away copy of the config's
// cluster (or, with --compose, the running compose cluster), a recorded load,
// a seeded fault schedule, heal, then the three proofs. See plan.ts for the
// schedule and figures, load.ts for the load.

const run = promisify(execFile);

export interface ChaosOptions {
  config: Readonly<Config>;
  durationMs: number;
  faults: readonly FaultKind[];
  clients: number;
  seed: number;
  /** Folder for the cluster's data (default: a fresh temp folder, removed after a passing run). */
  dataDir?: string;
  compose?: { file: string; routerUrl: string; secret: string; token?: string };
  /** Test only (TESSERA_CHAOS_FRONT): a stand-in process the load goes through instead of the router. */
  front?: string;
  /** A progress line (stderr); `final` ends it. */
  progress(line: string): void;
  log(line: string): void;
}

export interface TimelineEntry { atMs: number; text: string }

export interface FaultReport { step: FaultStep; victim: string; startMs: number; endMs: number; unavailableMs: number }

export interface ChaosResult {
  seed: number;
  durationMs: number;
  faults: FaultReport[];
  timeline: TimelineEntry[];
  stats: ChaosLoad['stats'];
  lost: string[];
  longestWriteGap: { shard: number; ms: number };
  linearizable: { status: 'ok' | 'violation' | 'unknown'; keys: number; ops: number; report: string };
  converged: Array<{ shard: number; consistent: boolean; complete: boolean; divergent: number; seq: number | null; detail: string }>;
  /** pass: all three proofs hold. violation: one was contradicted. Neither: something could not be proven (exit 3). */
  verdict: { lost: boolean; linearizable: boolean; converged: boolean; pass: boolean; violation: boolean };
  dataDir: string | null;
}

interface Target {
  routerUrl: string;
  secret: string;
  nodeIds: string[][];
  fault(kind: FaultKind, node: string): Promise<void>;
  heal(kind: FaultKind, node: string): Promise<void>;
  healAll(): Promise<void>;
  stop(): Promise<void>;
}

function isolatedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('TESSERA_')) env[k] = undefined;
  return env;
}

/** The config's topology and settings on free loopback ports, every node behind a proxy the run can cut. */
async function localTarget(o: ChaosOptions, dir: string): Promise<Target> {
  const { config } = o;
  const ids = config.shards.map((s) => s.nodes.map((n) => n.id));
  const flat = ids.flat();
  const ports = await freePorts(1 + 2 * flat.length);
  const raw: RawConfig = {
    cluster: { name: `chaos-${config.cluster.name}`, secret: config.cluster.secret },
    router: { url: `http://127.0.0.1:${ports[0]}` },
    dataDir: join(dir, 'data'),
    // The background anti-entropy pass would only compete with the final verify.
    replication: { ...config.replication, antiEntropyIntervalMs: 0 },
    limits: { ...config.limits },
    shards: config.shards.map((s) => ({ id: s.id, nodes: s.nodes.map((n) => ({ id: n.id, url: `http://127.0.0.1:${ports[1 + flat.indexOf(n.id)]}` })) })),
  };
  const proxyPorts = Object.fromEntries(flat.map((id, i) => [id, ports[1 + flat.length + i]!]));
  const configPath = join(dir, 'cluster.json');
  const routerConfigPath = join(dir, 'router.json');
  writeFileSync(configPath, `${JSON.stringify(raw, null, 2)}\n`);
  writeFileSync(routerConfigPath, `${JSON.stringify(withProxiedNodes(raw, proxyPorts), null, 2)}\n`);
  const parsed = parseConfig(raw, { baseDir: dir, env: {} });
  const proxies = Object.fromEntries(flat.map((id, i) => [id, { listenPort: proxyPorts[id]!, targetPort: ports[1 + i]! }]));
  const cluster: RunningCluster = await launchCluster({
    configPath, routerConfigPath, config: parsed, proxies, logDir: join(dir, 'logs'), env: isolatedEnv(), startTimeoutMs: 60_000,
  });
  const down = new Map<string, FaultKind>();
  const heal = async (kind: FaultKind, node: string) => {
    const p = cluster.nodes[node]!;
    if (kind === 'pause') p.resume();
    else if (kind === 'partition') cluster.proxies[node]!.heal();
    else if (!p.running) await p.start();
    down.delete(node);
  };
  return {
    routerUrl: raw.router.url,
    secret: config.cluster.secret,
    nodeIds: ids,
    async fault(kind, node) {
      const p = cluster.nodes[node]!;
      down.set(node, kind);
      if (kind === 'pause') p.pause();
      else if (kind === 'partition') cluster.proxies[node]!.cut('blackhole');
      else await p.kill('SIGKILL');
    },
    heal,
    async healAll() {
      for (const [node, kind] of [...down]) await heal(kind, node);
    },
    stop: () => cluster.stop(5_000),
  };
}

function composeTarget(o: ChaosOptions): Target {
  const c = o.compose!;
  const down = new Map<string, FaultKind>();
  const docker = async (argv: string[]) => {
    await run('docker', argv, { timeout: 60_000 });
  };
  const heal = async (kind: FaultKind, node: string) => {
    await docker(composeCommands(c.file, kind, node)!.heal);
    down.delete(node);
  };
  return {
    routerUrl: c.routerUrl,
    secret: c.secret,
    nodeIds: o.config.shards.map((s) => s.nodes.map((n) => n.id)),
    async fault(kind, node) {
      down.set(node, kind);
      await docker(composeCommands(c.file, kind, node)!.fault);
    },
    heal,
    async healAll() {
      for (const [node, kind] of [...down]) await heal(kind, node);
    },
    stop: async () => {},
  };
}

async function getJson(url: string, secret?: string, timeoutMs = 5000): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { headers: secret ? { authorization: bearer(secret) } : {}, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const ownDir = o.compose ? null : o.dataDir ?? mkdtempSync(join(tmpdir(), 'tessera-chaos-'));
  if (ownDir && o.dataDir) {
    mkdirSync(ownDir, { recursive: true });
    if (readdirSync(ownDir).length > 0) throw new Error(`--data ${ownDir} is not empty: chaos starts from fresh data`);
  }
  const target = o.compose ? composeTarget(o) : await localTarget(o, ownDir!);
  let front: ManagedProcess | null = null;
  let result: ChaosResult;
  try {
    result = await runAgainst(o, target, ownDir, (p) => { front = p; });
  } finally {
    await (front as ManagedProcess | null)?.stop(2_000);
    await target.healAll().catch(() => {});
    await target.stop();
  }
  // A passing run leaves nothing behind; a failing one keeps its data and logs for inspection.
  if (result.verdict.pass && ownDir && !o.dataDir) {
    rmSync(ownDir, { recursive: true, force: true });
    result.dataDir = null;
  }
  return result;
}

async function runAgainst(o: ChaosOptions, target: Target, dir: string | null, setFront: (p: ManagedProcess) => void): Promise<ChaosResult> {
  const t0 = performance.now();
  const at = () => performance.now() - t0;
  const timeline: TimelineEntry[] = [];
  const note = (text: string) => timeline.push({ atMs: at(), text });
  const shardCount = o.config.shards.length;
  // A compose cluster may guard its client API (DESIGN §3 auth): the load then needs a readwrite token and the db an admin's.
  const token = o.compose?.token;
  const put = await fetch(`${target.routerUrl}/v1/db/${DB}`, { method: 'PUT', headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
  if (put.status >= 300) throw new Error(`PUT /v1/db/${DB} answered ${put.status}: ${await put.text()}`);
  let loadUrl = target.routerUrl;
  if (o.front) {
    const p = new ManagedProcess({ name: 'front', entry: o.front, args: [target.routerUrl], readyPattern: /"msg":"listening"/, env: {} });
    setFront(p);
    await p.start();
    loadUrl = p.url!;
  }
  const load = new ChaosLoad(loadUrl, { clients: o.clients, shards: shardCount, writeTimeoutMs: o.config.replication.writeTimeoutMs, t0, ...(token ? { token } : {}) });
  const schedule = planSchedule({
    seed: o.seed, durationMs: o.durationMs, faults: o.faults, shardSizes: target.nodeIds.map((n) => n.length), failoverTimeoutMs: o.config.replication.failoverTimeoutMs,
  });
  const reports: FaultReport[] = [];
  let current = 'no fault';

  // Elections as the router reports them, for the timeline.
  const primaries = new Map<number, string>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      try {
        const c = await getJson(`${target.routerUrl}/v1/_cluster`, undefined, 2000);
        for (const s of (c.body?.shards ?? []) as Array<{ id: number; term: number; primaryId: string | null }>) {
          const key = `${s.primaryId ?? 'none'}@${s.term}`;
          if (primaries.has(s.id) && primaries.get(s.id) !== key) note(`shard ${s.id}: ${s.primaryId ? `${s.primaryId} is primary at term ${s.term}` : `no primary (term ${s.term})`}`);
          primaries.set(s.id, key);
        }
      } catch {
        // The router may be slow under a fault: try again.
      }
      await sleep(200);
    }
  })();

  const faulting = (async () => {
    for (const step of schedule) {
      // Restarts can run late on a busy machine: never start a fault in the run's last second.
      if (at() + step.holdMs > o.durationMs - 1000) break;
      const wait = step.atMs - at();
      if (wait > 0) await sleep(wait);
      // A node still catching up after the last fault does not count toward the quorum: faulting
      // another one now would take a majority of the shard down. Wait until the shard is whole.
      const whole = await waitFor(async () => {
        const c = await getJson(`${target.routerUrl}/v1/_cluster`, undefined, 2000);
        const sh = c.body?.shards?.[step.shard] as { primaryId: string | null; nodes: Array<{ health: string }> } | undefined;
        return sh !== undefined && sh.primaryId !== null && sh.nodes.every((n) => n.health === 'InSync');
      }, { timeoutMs: 15_000, intervalMs: 100 }).then(() => true, () => false);
      if (!whole) {
        note(`shard ${step.shard} not back in sync within 15 s: ${step.kind} skipped`);
        continue;
      }
      if (at() + step.holdMs > o.durationMs - 1000) break;
      let victim: string;
      if (step.node === 'primary') {
        const c = await getJson(`${target.routerUrl}/v1/_cluster`).catch(() => null);
        victim = (c?.body?.shards?.[step.shard]?.primaryId as string | null | undefined) ?? target.nodeIds[step.shard]![0]!;
      } else victim = target.nodeIds[step.shard]![step.node]!;
      const startMs = at();
      const verb = step.kind === 'partition' ? 'cut the link router ↔' : step.kind === 'pause' ? 'pause (SIGSTOP)' : 'kill (SIGKILL)';
      note(`${verb} ${victim} (shard ${step.shard}${step.kind === 'primary' ? ', the primary' : ''}) for ${step.holdMs} ms`);
      current = `${step.kind} ${victim}`;
      await target.fault(step.kind, victim);
      await sleep(step.holdMs);
      await target.heal(step.kind, victim);
      const endMs = at();
      note(step.kind === 'partition' ? `healed the link to ${victim}` : step.kind === 'pause' ? `resumed ${victim}` : `restarted ${victim}`);
      current = 'no fault';
      reports.push({ step, victim, startMs, endMs, unavailableMs: 0 });
    }
  })();

  const ticker = setInterval(() => {
    const s = load.stats;
    o.progress(`[${(at() / 1000).toFixed(0).padStart(4)}s] faults ${reports.length}/${schedule.length} · acked ${s.acked} · failed ${s.failed} · indeterminate ${s.indeterminate} · ${current}`);
  }, 1000);
  const workers = Promise.all(Array.from({ length: o.clients }, (_, w) => load.worker(w, o.seed)));
  try {
    // The load runs for the whole duration and at least until the last fault healed.
    await faulting;
    const left = o.durationMs - at();
    if (left > 0) await sleep(left);
  } finally {
    load.stop();
    await workers;
    clearInterval(ticker);
  }
  const loadEnd = at();
  note(`load stopped: ${load.stats.acked} acknowledged writes`);

  // Heal and wait until every node is back in sync.
  await target.healAll();
  const convergedAt = await waitFor(async () => {
    const c = await getJson(`${target.routerUrl}/v1/_cluster`);
    const shards = (c.body?.shards ?? []) as Array<{ primaryId: string | null; nodes: Array<{ health: string }> }>;
    return shards.length === shardCount && shards.every((s) => s.primaryId !== null && s.nodes.every((n) => n.health === 'InSync')) ? at() : null;
  }, { timeoutMs: 60_000, intervalMs: 250, message: 'every node of every shard InSync after the faults healed' }).catch((err: Error) => {
    note(`FAILED: ${err.message.split('\n')[0]}`);
    return null;
  });
  watching = false;
  await watcher;
  if (convergedAt !== null) note('every node InSync');

  // Proof 1: every acknowledged fresh write is readable with its rev; the final state of every shared document is read (and checked below).
  const lost: string[] = [];
  for (let i = 0; i < load.fresh.length; i += 32) {
    await Promise.all(load.fresh.slice(i, i + 32).map(async (f) => {
      const a = await load.request('GET', `/v1/db/${DB}/docs/${f.id}`);
      const rev = (a.body as { rev?: unknown } | null)?.rev;
      if (a.status !== 200 || rev !== f.rev) lost.push(`${f.id}: acknowledged ${f.rev}, read ${a.status} ${typeof rev === 'string' ? rev : ''}`.trimEnd());
    }));
  }
  for (const key of load.keys) await load.read(key, 'final');
  await load.close();

  // Proof 3: every shard's copies equal (tessera verify), retried while a replica still catches up.
  const converged: ChaosResult['converged'] = [];
  for (let shard = 0; shard < shardCount; shard++) {
    let last: ChaosResult['converged'][number] = { shard, consistent: false, complete: false, divergent: 0, seq: null, detail: 'not verified' };
    const until = Date.now() + 30_000;
    for (let attempt = 0; attempt < 60 && Date.now() < until; attempt++) {
      try {
        const v = await getJson(`${target.routerUrl}/v1/_cluster/shards/${shard}/verify`, target.secret, 60_000);
        if (v.status !== 200) last = { ...last, detail: `${v.status} ${v.body?.error ?? ''}: ${v.body?.message ?? ''}` };
        else {
          const r = v.body as { consistent: boolean; complete: boolean; seq: number; divergent: Array<{ db: string; id: string; copies: Array<{ node: string; same: boolean; rev: string | null }> }>; nodes: Array<{ id: string; status: string }> };
          const bad = r.divergent.map((d) => `${d.db}/${d.id} differs on ${d.copies.filter((c) => !c.same).map((c) => `${c.node} (${c.rev ?? 'none'})`).join(', ')}`);
          const notCompared = r.nodes.filter((n) => n.status !== 'compared').map((n) => `${n.id} ${n.status}`);
          last = { shard, consistent: r.consistent, complete: r.complete, divergent: r.divergent.length, seq: r.seq, detail: [...bad, ...notCompared].join('; ') };
          if (r.consistent || r.divergent.length > 0) break;
        }
      } catch (err) {
        last = { ...last, detail: (err as Error).message };
      }
      await sleep(500);
    }
    converged.push(last);
  }

  // Proof 2: the recorded history is linearizable.
  const history = load.recorder.history();
  const check = checkDocHistory(history, { maxMs: 5_000 });

  reports.forEach((r, i) => {
    // From the fault until the shard had time to recover: the next fault, or 3 s after the heal.
    const until = Math.min(loadEnd, r.endMs + 3000, reports[i + 1]?.startMs ?? Number.POSITIVE_INFINITY);
    r.unavailableMs = Math.round(longestGapMs(load.marks, r.step.shard, r.startMs, until));
  });
  let longest = { shard: 0, ms: 0 };
  for (let s = 0; s < shardCount; s++) {
    const ms = Math.round(longestGapMs(load.marks, s, 0, loadEnd));
    if (ms > longest.ms) longest = { shard: s, ms };
  }
  const verdict = {
    lost: lost.length === 0,
    linearizable: check.status === 'ok',
    converged: convergedAt !== null && converged.every((c) => c.consistent),
    pass: false,
    violation: lost.length > 0 || check.status === 'violation' || convergedAt === null || converged.some((c) => c.divergent > 0),
  };
  verdict.pass = verdict.lost && verdict.linearizable && verdict.converged;
  return {
    seed: o.seed, durationMs: o.durationMs, faults: reports, timeline, stats: load.stats, lost, longestWriteGap: longest,
    linearizable: { status: check.status, keys: check.keys.length, ops: history.length, report: check.report },
    converged, verdict, dataDir: dir,
  };
}

