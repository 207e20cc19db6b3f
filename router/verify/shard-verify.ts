import type { Clock } from '../../src/core/clock.ts';
import { TesseraError } from '../../src/core/errors.ts';
import { UnreachableError } from '../../src/core/http/client.ts';
import type { RouterMetrics } from '../../src/core/metrics.ts';
import { DEFAULT_DEPTH } from '../../src/core/merkle.ts';
import { REPLICATION_PREFIX } from '../../src/core/protocol.ts';
import { noPrimary, writeToShard } from '../api/writer.ts';
import type { ShardRuntime } from '../replication/shard-runtime.ts';
import {
  differingRanges, divergentDbs, divergentDocs, type DbDivergence, type DigestDoc, type Divergence, type NodeDigest,
} from './compare.ts';

// One shard's anti-entropy pass (router/VERIFY.md): agree on a seq (the
// router's commit point), get every copy's Merkle leaves as of it, walk the
// trees against the primary's, list the documents of the ranges that differ,
// and name what each copy holds. Repair sends one `repair` entry per
// divergent document through the primary, as a write: replicated, counted
// toward the quorum, kept in every copy's log.

export type CopyStatus = 'compared' | 'unreachable' | 'behind' | 'log_differs' | 'not_at_seq';

export interface NodeReport {
  id: string;
  role: 'primary' | 'replica';
  status: CopyStatus;
  /** Documents (tombstones included) the copy holds at the seq. */
  docs?: number;
  /** Tree leaves (id-hash ranges) where it differs from the primary. */
  differingRanges?: number;
  detail?: string;
}

export interface VerifyReport {
  shard: number;
  seq: number;
  term: number;
  primaryId: string;
  depth: number;
  /** Every node was compared and every copy equals the primary's. */
  consistent: boolean;
  /** Every node of the shard was compared. */
  complete: boolean;
  nodes: NodeReport[];
  divergent: Divergence[];
  dbs: DbDivergence[];
  /** Tree nodes compared while walking down to the differing ranges. */
  treeNodesCompared: number;
  ms: number;
}

export interface RepairOutcome {
  db: string;
  id: string;
  outcome: 'repaired' | 'refused' | 'failed';
  seq?: number;
  acks?: number;
  detail?: string;
}

export interface VerifyDeps {
  clock: Clock;
  writeTimeoutMs: number;
  metrics?: RouterMetrics;
}

export interface VerifyOptions {
  depth?: number;
  /** Overall deadline for agreeing on a seq and reading every copy (default 30 s). */
  timeoutMs?: number;
  /** Verify at a seq at least this high (after a repair: past its entries). */
  minSeq?: number;
}

const RETRY_MS = 200;

type Answer = { kind: 'ok'; digest: NodeDigest } | { kind: 'fail'; status: CopyStatus; detail: string; retry: boolean };

async function ask(rt: ShardRuntime, nodeId: string, seq: number, depth: number, timeoutMs: number): Promise<Answer> {
  try {
    const res = await rt.nodes.get(nodeId)!.client.json<NodeDigest>({ path: `${REPLICATION_PREFIX}/digest?seq=${seq}&depth=${depth}`, timeoutMs });
    return { kind: 'ok', digest: res.body };
  } catch (err) {
    if (err instanceof UnreachableError) return { kind: 'fail', status: 'unreachable', detail: err.message, retry: true };
    if (err instanceof TesseraError && err.code === 'not_at_seq') {
      const reason = String(err.details.reason ?? '');
      return { kind: 'fail', status: reason === 'behind' ? 'behind' : 'not_at_seq', detail: `${reason}: ${err.message}`, retry: reason !== 'needs_snapshot' };
    }
    return { kind: 'fail', status: 'unreachable', detail: (err as Error).message, retry: false };
  }
}

/** Compares every copy of the shard at one seq; throws 503 no_primary when the shard has none. */
export async function verifyShard(deps: VerifyDeps, rt: ShardRuntime, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const { clock } = deps;
  const t0 = clock.now();
  const depth = opts.depth ?? DEFAULT_DEPTH;
  const deadline = t0 + (opts.timeoutMs ?? 30_000);
  const ids = [...rt.nodes.keys()];
  for (;;) {
    let primaryId = rt.view.primaryId;
    if (primaryId === null) {
      await rt.refresh(Math.min(1000, Math.max(50, deadline - clock.now())));
      primaryId = rt.view.primaryId;
      if (primaryId === null) throw noPrimary(rt.shardId);
    }
    const seq = rt.commitSeq;
    const stepMs = Math.max(500, Math.min(10_000, deadline - clock.now()));
    if (opts.minSeq !== undefined && seq < opts.minSeq) {
      if (clock.now() + RETRY_MS >= deadline) throw new TesseraError('unavailable', `shard ${rt.shardId}: the commit point did not reach ${opts.minSeq} in time`);
      await sleep(clock, RETRY_MS);
      continue;
    }
    const answers = new Map(await Promise.all(ids.map(async (id) => [id, await ask(rt, id, seq, depth, stepMs)] as const)));
    const p = answers.get(primaryId)!;
    const lastTry = clock.now() + RETRY_MS >= deadline;
    if (p.kind === 'fail') {
      if (p.retry && !lastTry) {
        await sleep(clock, RETRY_MS);
        continue;
      }
      throw new TesseraError('unavailable', `shard ${rt.shardId}: the primary ${primaryId} cannot show its documents at seq ${seq}: ${p.detail}`);
    }
    const primary = p.digest;
    // Log matching: copies whose entry at `seq` has the primary's term hold the same log up to it.
    const status = new Map<string, Answer>(answers);
    for (const [id, a] of answers) {
      if (a.kind === 'ok' && a.digest.term !== primary.term) {
        status.set(id, { kind: 'fail', status: 'log_differs', detail: `its entry at seq ${seq} has term ${a.digest.term}, the primary's ${primary.term}: replication has not repaired its log yet`, retry: true });
      }
    }
    const retryable = [...status.values()].some((a) => a.kind === 'fail' && a.retry);
    if (retryable && !lastTry) {
      await sleep(clock, RETRY_MS);
      continue;
    }
    return compare(deps, rt, { primaryId, primary, seq, depth, status, t0, deadline });
  }
}

async function compare(
  deps: VerifyDeps, rt: ShardRuntime,
  c: { primaryId: string; primary: NodeDigest; seq: number; depth: number; status: Map<string, Answer>; t0: number; deadline: number },
): Promise<VerifyReport> {
  const { clock } = deps;
  let compared = [...c.status].filter(([, a]) => a.kind === 'ok').map(([, a]) => (a as { digest: NodeDigest }).digest);
  const replicas = compared.filter((d) => d.nodeId !== c.primaryId);
  const ranges = differingRanges(c.primary, replicas);
  const docsByNode = new Map<string, DigestDoc[]>();
  if (ranges.union.length > 0) {
    const askDocs = [c.primaryId, ...replicas.filter((r) => (ranges.byNode.get(r.nodeId)?.length ?? 0) > 0).map((r) => r.nodeId)];
    const leaves = ranges.union.join(',');
    await Promise.all(askDocs.map(async (id) => {
      try {
        const res = await rt.nodes.get(id)!.client.json<{ docs: DigestDoc[] }>({
          path: `${REPLICATION_PREFIX}/digest/docs?seq=${c.seq}&depth=${c.depth}&leaves=${leaves}`, timeoutMs: Math.max(1000, c.deadline - clock.now()),
        });
        docsByNode.set(id, res.body.docs);
      } catch (err) {
        // Lost between the two steps: that copy is not compared (the primary's loss fails the pass).
        if (id === c.primaryId) throw new TesseraError('unavailable', `shard ${rt.shardId}: the primary ${id} did not list its documents: ${(err as Error).message}`);
        c.status.set(id, { kind: 'fail', status: 'unreachable', detail: (err as Error).message, retry: false });
      }
    }));
  }
  const comparedIds = [...rt.nodes.keys()].filter((id) => c.status.get(id)?.kind === 'ok');
  const divergent = ranges.union.length > 0 ? divergentDocs(c.primaryId, comparedIds, docsByNode, rt.nodes.size) : [];
  compared = compared.filter((d) => c.status.get(d.nodeId)?.kind === 'ok');
  const dbs = divergentDbs(compared);
  const nodes: NodeReport[] = [...rt.nodes.keys()].map((id) => {
    const a = c.status.get(id)!;
    const role = id === c.primaryId ? 'primary' as const : 'replica' as const;
    if (a.kind === 'fail') return { id, role, status: a.status, detail: a.detail };
    return { id, role, status: 'compared', docs: a.digest.docs, differingRanges: ranges.byNode.get(id)?.length ?? 0 };
  });
  const complete = nodes.every((n) => n.status === 'compared');
  return {
    shard: rt.shardId, seq: c.seq, term: c.primary.term, primaryId: c.primaryId, depth: c.depth,
    consistent: complete && divergent.length === 0 && dbs.length === 0,
    complete, nodes, divergent, dbs, treeNodesCompared: ranges.compared, ms: Math.round(clock.now() - c.t0),
  };
}

/**
 * One `repair` entry per divergent document the primary may speak for,
 * written like a client write (writeToShard: term-stamped, relayed, answered
 * once quorum-committed). A document where a majority holds another version
 * than the primary is refused: copying the primary there would spread the
 * damage (router/VERIFY.md).
 */
export async function repairShard(deps: VerifyDeps, rt: ShardRuntime, report: VerifyReport): Promise<RepairOutcome[]> {
  const out: RepairOutcome[] = [];
  for (const d of report.divergent) {
    if (d.primaryOutvoted) {
      out.push({ db: d.db, id: d.id, outcome: 'refused', detail: `a majority of copies holds another version than the primary ${report.primaryId}: fail over to one of them (tessera failover --to), then repair` });
      continue;
    }
    try {
      const r = await writeToShard(deps, rt, { method: 'POST', path: `${REPLICATION_PREFIX}/repair`, body: { db: d.db, id: d.id } }, deps.clock.now() + deps.writeTimeoutMs);
      out.push({ db: d.db, id: d.id, outcome: 'repaired', seq: r.seq, acks: Number(r.body.acks) });
    } catch (err) {
      const e = err as TesseraError;
      out.push({ db: d.db, id: d.id, outcome: 'failed', detail: `${e.code ?? 'error'}: ${e.message}` });
    }
  }
  return out;
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
