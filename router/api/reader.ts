import type { Clock } from '../../src/core/clock.ts';
import { fromBody, TesseraError } from '../../src/core/errors.ts';
import { UnreachableError, type JsonResponse } from '../../src/core/http/client.ts';
import { revGeneration } from '../../src/core/doc/rev.ts';
import type { ShardNode, ShardRuntime } from '../replication/shard-runtime.ts';
import { noPrimary } from './writer.ts';

// Reads (DESIGN §4): `primary` (default, read-your-acknowledged-writes),
// `any` (first copy that answers, replicas first; may be stale), `quorum`
// (readQuorum copies, the newest wins).

export const READ_MODES = ['primary', 'any', 'quorum'] as const;
export type ReadMode = (typeof READ_MODES)[number];

export interface ReaderDeps {
  clock: Clock;
  readQuorum: number;
}

export interface ReadAnswer {
  status: number;
  body: unknown;
}

/** A single-shard read; the node's 4xx (404 ...) become TesseraErrors. */
export async function readFromShard(deps: ReaderDeps, rt: ShardRuntime, path: string, mode: ReadMode, deadlineMs: number): Promise<ReadAnswer> {
  const answer = mode === 'any' ? await readAny(deps, rt, path, deadlineMs)
    : mode === 'quorum' ? await readQuorum(deps, rt, path, deadlineMs)
      : await readPrimary(deps, rt, path, deadlineMs);
  if (answer.status >= 400) throw fromBody(answer.body, answer.status);
  return answer;
}

/** The primary's answer, whatever its status; one view refresh and retry if the primary is unknown or unreachable. */
export async function readPrimary(deps: ReaderDeps, rt: ShardRuntime, path: string, deadlineMs: number): Promise<ReadAnswer> {
  const { clock } = deps;
  for (let attempt = 0; ; attempt++) {
    let primary = rt.primary();
    if (!primary) {
      await rt.refresh(Math.min(1000, Math.max(50, deadlineMs - clock.now())));
      primary = rt.primary();
      if (!primary) throw noPrimary(rt.shardId);
    }
    try {
      return await ask(primary, path, deadlineMs - clock.now());
    } catch (err) {
      if (!(err instanceof UnreachableError) || attempt > 0 || clock.now() >= deadlineMs) {
        if (err instanceof UnreachableError) throw noPrimary(rt.shardId, `The primary of shard ${rt.shardId} is unreachable`);
        throw err;
      }
      await rt.refresh(Math.min(1000, Math.max(50, deadlineMs - clock.now())));
    }
  }
}

async function readAny(deps: ReaderDeps, rt: ShardRuntime, path: string, deadlineMs: number): Promise<ReadAnswer> {
  const { clock } = deps;
  const primaryId = rt.view.primaryId;
  // Replicas that answered replication lately first, then the primary, then the rest.
  const nodes = [...rt.nodes.values()].sort((a, b) => rank(rt, a, primaryId) - rank(rt, b, primaryId));
  for (const node of nodes) {
    const left = deadlineMs - clock.now();
    if (left <= 0) break;
    try {
      return await ask(node, path, Math.min(left, 1000));
    } catch (err) {
      if (!(err instanceof UnreachableError)) throw err;
    }
  }
  throw new TesseraError('unavailable', `No copy of shard ${rt.shardId} answered`, { shard: rt.shardId }, { 'retry-after': '1' });
}

function rank(rt: ShardRuntime, node: ShardNode, primaryId: string | null): number {
  if (node.id === primaryId) return 1;
  return rt.streams.get(node.id)?.reachable === false ? 2 : 0;
}

async function readQuorum(deps: ReaderDeps, rt: ShardRuntime, path: string, deadlineMs: number): Promise<ReadAnswer> {
  const { clock, readQuorum: needed } = deps;
  const answers: ReadAnswer[] = [];
  await new Promise<void>((resolve) => {
    let pending = rt.nodes.size;
    for (const node of rt.nodes.values()) {
      ask(node, path, deadlineMs - clock.now()).then((a) => {
        if (a.status < 500) answers.push(a);
      }, () => undefined).finally(() => {
        pending--;
        if (answers.length >= needed || pending === 0) resolve();
      });
    }
  });
  if (answers.length < needed) {
    throw new TesseraError('unavailable', `Only ${answers.length} of ${needed} copies answered`, { shard: rt.shardId, answered: answers.length, required: needed }, { 'retry-after': '1' });
  }
  return newestAnswer(answers);
}

/**
 * The newest of several copies' answers: a document beats a 404, then the
 * higher `seq` (the log entry that wrote it), then the higher rev generation.
 */
export function newestAnswer(answers: ReadonlyArray<ReadAnswer>): ReadAnswer {
  let best = answers[0]!;
  for (const a of answers.slice(1)) if (compareAnswers(a, best) > 0) best = a;
  return best;
}

function compareAnswers(a: ReadAnswer, b: ReadAnswer): number {
  const aOk = a.status < 300;
  const bOk = b.status < 300;
  if (aOk !== bOk) return aOk ? 1 : -1;
  if (!aOk) return 0;
  const ab = a.body as { seq?: unknown; rev?: unknown };
  const bb = b.body as { seq?: unknown; rev?: unknown };
  if (typeof ab.seq === 'number' && typeof bb.seq === 'number' && ab.seq !== bb.seq) return ab.seq - bb.seq;
  const ag = typeof ab.rev === 'string' ? revGeneration(ab.rev) : Number.NaN;
  const bg = typeof bb.rev === 'string' ? revGeneration(bb.rev) : Number.NaN;
  if (Number.isFinite(ag) && Number.isFinite(bg)) return ag - bg;
  return 0;
}

async function ask(node: ShardNode, path: string, timeoutMs: number): Promise<ReadAnswer> {
  if (timeoutMs <= 0) throw new UnreachableError(node.url, new Error('no time left'), true);
  const res: JsonResponse<unknown> = await node.client.raw({ path, timeoutMs });
  return { status: res.status, body: res.body };
}
