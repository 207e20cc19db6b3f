import { checkDocHistory, classifyReadAnswer, classifyWriteAnswer, HistoryRecorder, type DocInput } from '../../src/check/index.ts';
import type { Rng } from '../../src/core/rng.ts';

// A recorded load for linearizability tests (issue 9): a few clients read,
// create, compare-and-set and delete a handful of documents through the
// routers, each op recorded with its call and return times and classified
// by the outcome rules of DESIGN §4 (src/check/history.ts). Contention is
// the point: few keys, several clients, CAS against whatever rev each client
// saw last. Bounded in ops and in time; seeded, so a failing run replays.

export interface LinearLoadOptions {
  routerUrls: readonly string[];
  db: string;
  keys: number;
  clients: number;
  maxOps: number;
  maxMs: number;
  /** Client-side deadline of one request: past it the op's outcome is unknown. */
  requestTimeoutMs: number;
  random: Rng;
}

export class LinearLoad {
  readonly recorder = new HistoryRecorder();
  /** Answers by kind (`write 201`, `read 200`, `write timeout`, ...), for the test's log line. */
  readonly answers = new Map<string, number>();
  readonly #o: LinearLoadOptions;
  #ops = 0;
  #stopped = false;
  #finished = false;
  #running: Promise<void> | null = null;

  constructor(o: LinearLoadOptions) {
    this.#o = o;
  }

  get ops(): number {
    return this.#ops;
  }

  /** Every client has stopped (asked to, or out of ops or time). */
  get finished(): boolean {
    return this.#finished;
  }

  start(): this {
    const end = Date.now() + this.#o.maxMs;
    this.#running ??= Promise.all(Array.from({ length: this.#o.clients }, (_, c) => this.#client(c, end))).then(() => { this.#finished = true; });
    return this;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  /** The history checked per document (the writes still in flight count as unknown). */
  check(): ReturnType<typeof checkDocHistory> {
    return checkDocHistory(this.recorder.history(), { maxMs: 20_000 });
  }

  summary(): string {
    return `${this.#ops} ops, ${JSON.stringify(Object.fromEntries([...this.answers].sort()))}`;
  }

  async #client(c: number, end: number): Promise<void> {
    const { random, keys, db, routerUrls } = this.#o;
    const router = routerUrls[c % routerUrls.length]!;
    /** What this client last saw of each document: the rev for its next CAS (null: absent or deleted). */
    const seen = new Map<string, string | null>();
    for (let n = 0; !this.#stopped && Date.now() < end && this.#ops < this.#o.maxOps; n++) {
      this.#ops++;
      const key = `k${random.int(keys)}`;
      const url = `${router}/v1/db/${db}/docs/${key}`;
      const known = seen.get(key);
      const roll = random.next();
      let input: DocInput;
      let init: RequestInit;
      let query = '';
      if (roll < 0.4) {
        // Both linearizable modes (DESIGN §4): the primary confirmed by a quorum, or a read quorum.
        input = { kind: 'read' };
        init = { method: 'GET' };
        query = roll < 0.3 ? '' : '?read=quorum';
      } else if (known === undefined || known === null || roll < 0.5) {
        // A create (or a re-create after a delete); against an existing doc it is a 409.
        const body = { data: { c, n } };
        input = { kind: 'put', body };
        init = { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
      } else if (roll < 0.9) {
        const body = { data: { c, n } };
        input = { kind: 'put', body, rev: known };
        init = { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, rev: known }) };
      } else {
        input = { kind: 'delete', rev: known };
        init = { method: 'DELETE' };
      }
      const target = input.kind === 'delete' ? `${url}?rev=${encodeURIComponent(input.rev)}` : url + query;
      const op = input.kind === 'read' ? 'read' : 'write';
      const handle = this.recorder.invoke(key, input, `c${c}`);
      let status: number | 'timeout' | 'network_error';
      let body: unknown = undefined;
      try {
        const res = await fetch(target, { ...init, signal: AbortSignal.timeout(this.#o.requestTimeoutMs) });
        status = res.status;
        const text = await res.text();
        body = text ? JSON.parse(text) : undefined;
      } catch (err) {
        status = (err as Error).name === 'TimeoutError' ? 'timeout' : 'network_error';
      }
      const output = op === 'read' ? classifyReadAnswer(status, body) : classifyWriteAnswer(status, body);
      this.recorder.complete(handle, output);
      this.answers.set(`${op} ${status}`, (this.answers.get(`${op} ${status}`) ?? 0) + 1);
      // What the client now believes: a read or a successful write tells the current rev.
      if (output.kind === 'ok') seen.set(key, input.kind === 'delete' || (body as { deleted?: boolean })?.deleted ? null : output.rev);
      else if (output.kind === 'not_found') seen.set(key, null);
      // An unavailable shard answers at once: do not spin on failures.
      if (typeof status !== 'number' || status >= 500) await new Promise((r) => setTimeout(r, 20));
    }
  }
}
