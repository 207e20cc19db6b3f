import { revGeneration } from '../core/doc/rev.ts';
import type { DocInput, DocOperation, DocOutput } from './doc-model.ts';

// Recording what clients saw, and turning Tessera's HTTP answers (DESIGN §4)
// into model outputs. The rule for anything unclear: a write becomes
// `unknown` (it may have happened; assuming it did not could invent a
// violation), a read is discarded (dropping an observation can only hide a
// violation, never invent one).

/** The op did not happen, or says nothing about the document: leave it out of the history. */
export interface Discard {
  readonly kind: 'discard';
  readonly reason: string;
}

/** No HTTP answer at all: the request may or may not have reached a node. */
export type NoAnswer = 'timeout' | 'network_error';

// Refused by validation, auth or routing before any node looked at the
// document; 422 is an Idempotency-Key already used for another request.
const REFUSED = new Set([400, 401, 403, 405, 413, 415, 422, 431]);

export function classifyWriteAnswer(status: number | NoAnswer, body?: unknown): DocOutput | Discard {
  if (typeof status !== 'number') return { kind: 'unknown' };
  const b = asRecord(body);
  if (status === 200 || status === 201) return { kind: 'ok', rev: answeredRev(status, b), status };
  if (status === 409) {
    if (b.error === 'conflict') return { kind: 'conflict' };
    // A node that is not (or no longer) primary refuses before it plans the write.
    if (b.error === 'not_primary' || b.error === 'stale_term') return { kind: 'discard', reason: `409 ${b.error}: refused by a non-primary` };
    return { kind: 'unknown' };
  }
  if (status === 404) return { kind: 'not_found' };
  if (REFUSED.has(status)) return { kind: 'discard', reason: `${status} ${String(b.error ?? '')}: refused, changed nothing`.trimEnd() };
  // `not_applied` is only said when the request provably never reached a node (DESIGN §4).
  if (status === 503 && b.outcome === 'not_applied') return { kind: 'discard', reason: `503 ${String(b.error ?? '')}: not applied` };
  // quorum_not_met (`indeterminate`), 500, an unexpected status: it may have happened.
  return { kind: 'unknown' };
}

export function classifyReadAnswer(status: number | NoAnswer, body?: unknown): DocOutput | Discard {
  if (typeof status !== 'number') return { kind: 'discard', reason: `read failed: ${status}` };
  if (status === 200) return { kind: 'ok', rev: answeredRev(status, asRecord(body)) };
  if (status === 404) return { kind: 'not_found' };
  return { kind: 'discard', reason: `read answered ${status}: no information` };
}

function asRecord(body: unknown): Record<string, unknown> {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
}

// A success without a well-formed rev is a broken server, not an outcome to
// model: crash loudly (STYLE §4).
function answeredRev(status: number, body: Record<string, unknown>): string {
  const rev = body.rev;
  if (typeof rev !== 'string' || Number.isNaN(revGeneration(rev))) {
    throw new Error(`a ${status} answer without a valid rev: ${JSON.stringify(body).slice(0, 200)}`);
  }
  return rev;
}

/** What `invoke` hands out, to give back to `complete`. */
export interface OpHandle {
  readonly key: string;
  readonly input: DocInput;
}

interface Pending extends OpHandle {
  readonly call: number;
  readonly client: string | undefined;
  done: boolean;
}

/**
 * Collects one history from any number of concurrent clients in this process.
 * `invoke` just before sending, `complete` as soon as the answer is in: the
 * [call, return] window must contain the moment the store acted.
 */
export class HistoryRecorder {
  readonly #now: () => number;
  /** Every op invoked, in call order; the handle is its entry. */
  readonly #invoked: Pending[] = [];
  readonly #mine = new WeakSet<OpHandle>();
  readonly #ops: DocOperation[] = [];
  #discarded = 0;

  /** `now` must be monotonic: wall-clock steps would fake or hide overlaps. */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  invoke(key: string, input: DocInput, client?: string): OpHandle {
    const p: Pending = { key, input, call: this.#now(), client, done: false };
    this.#invoked.push(p);
    this.#mine.add(p);
    return p;
  }

  complete(handle: OpHandle, output: DocOutput | Discard): void {
    if (!this.#mine.has(handle)) throw new Error('complete: a handle from another recorder');
    const p = handle as Pending;
    if (p.done) throw new Error(`complete: the op on ${p.key} was already completed`);
    p.done = true;
    const ret = this.#now();
    if (ret < p.call) throw new Error(`complete: the clock went back (${p.call} → ${ret}); use a monotonic clock`);
    if (output.kind === 'discard' || (output.kind === 'unknown' && p.input.kind === 'read')) {
      this.#discarded++;
      return;
    }
    // An unknown outcome may take effect at any later time, even after this answer.
    this.#ops.push(this.#op(p, output, output.kind === 'unknown' ? Infinity : ret));
  }

  /** Ops left out: they did not happen or carried no information. */
  get discarded(): number {
    return this.#discarded;
  }

  /** The completed ops, plus every write still in flight as `unknown`. */
  history(): DocOperation[] {
    const inFlight = this.#invoked.filter((p) => !p.done && p.input.kind !== 'read').map((p) => this.#op(p, { kind: 'unknown' }, Infinity));
    return [...this.#ops, ...inFlight];
  }

  #op(p: Pending, output: DocOutput, ret: number): DocOperation {
    return { key: p.key, input: p.input, output, call: p.call, return: ret, ...(p.client !== undefined ? { client: p.client } : {}) };
  }
}
