import { Pool } from 'undici';
import { shardFor } from '../../core/hash.ts';
import { rng } from '../../core/rng.ts';
import { classifyReadAnswer, classifyWriteAnswer, HistoryRecorder, type NoAnswer } from '../../check/index.ts';
import type { WriteMark } from './plan.ts';

// The recorded load of `tessera chaos`: `clients` workers against one router
// URL, each a loop of compare-and-set writes, deletes and reads on a small
// set of shared documents (the linearizability checker's material: every op
// recorded with its call and return time), plus fresh documents written once
// (the "no acknowledged write lost" material: each acknowledged one must be
// read back). Shared documents are replaced by new ones every 10 s, so no
// document gathers more ops than the checker can search.

export const DB = 'chaos';
const GENERATION_MS = 10_000;
const MAX_OPS_PER_WORKER = 200_000;

export interface LoadStats {
  acked: number;
  ackedFresh: number;
  deletesAcked: number;
  reads: number;
  failed: number;
  indeterminate: number;
  conflicts: number;
}

export interface FreshWrite {
  id: string;
  rev: string;
}

export class ChaosLoad {
  readonly recorder = new HistoryRecorder();
  readonly stats: LoadStats = { acked: 0, ackedFresh: 0, deletesAcked: 0, reads: 0, failed: 0, indeterminate: 0, conflicts: 0 };
  readonly fresh: FreshWrite[] = [];
  readonly marks: WriteMark[] = [];
  /** Every shared key used, for the final reads. */
  readonly keys = new Set<string>();
  readonly #pool: Pool;
  readonly #t0: number;
  readonly #shards: number;
  readonly #timeoutMs: number;
  readonly #keysPerGen: number;

  readonly #auth: Record<string, string>;

  constructor(readonly url: string, opts: { clients: number; shards: number; writeTimeoutMs: number; t0: number; token?: string }) {
    this.#auth = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
    this.#pool = new Pool(url, { connections: opts.clients + 4, pipelining: 1 });
    this.#t0 = opts.t0;
    this.#shards = opts.shards;
    this.#timeoutMs = opts.writeTimeoutMs + 2000;
    this.#keysPerGen = Math.max(4, opts.clients);
  }

  now(): number {
    return performance.now() - this.#t0;
  }

  async request(method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<{ status: number | NoAnswer; body: unknown }> {
    try {
      const res = await this.#pool.request({
        method, path,
        headers: body === undefined ? { ...this.#auth } : { ...this.#auth, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: this.#timeoutMs, bodyTimeout: this.#timeoutMs, signal: AbortSignal.timeout(this.#timeoutMs),
      });
      const text = await res.body.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = text;
      }
      return { status: res.statusCode, body: parsed };
    } catch (err) {
      const name = (err as Error).name;
      return { status: name === 'TimeoutError' || name === 'AbortError' || /Timeout/.test(name) ? 'timeout' : 'network_error', body: null };
    }
  }

  #stopped = false;

  /** Workers finish their current op and return. */
  stop(): void {
    this.#stopped = true;
  }

  /** Runs worker `w` until stop() (bounded by MAX_OPS_PER_WORKER ops). */
  async worker(w: number, seed: number): Promise<void> {
    const r = rng((seed ^ Math.imul(w + 1, 0x9e3779b1)) >>> 0);
    const known = new Map<string, string | undefined>();
    const client = `c${w}`;
    for (let n = 0; n < MAX_OPS_PER_WORKER && !this.#stopped; n++) {
      const roll = r.next();
      if (roll < 0.15) {
        await this.#fresh(`f-${w}-${n}`, w, n);
        continue;
      }
      const key = `k${Math.floor(this.now() / GENERATION_MS)}-${r.int(this.#keysPerGen)}`;
      this.keys.add(key);
      const rev = known.get(key);
      if (roll < 0.55) await this.#put(key, rev, { w, n }, known, client);
      else if (roll < 0.67 && rev !== undefined) await this.#delete(key, rev, known, client);
      else await this.read(key, client, known);
    }
  }

  async #fresh(id: string, w: number, n: number): Promise<void> {
    const start = this.now();
    const a = await this.request('PUT', `/v1/db/${DB}/docs/${id}`, { data: { w, n } });
    const ok = a.status === 201 || a.status === 200;
    this.#mark(id, start, ok);
    if (ok) {
      this.stats.acked++;
      this.stats.ackedFresh++;
      this.fresh.push({ id, rev: String((a.body as { rev?: unknown }).rev) });
    } else this.#countFailure(a);
  }

  async #put(key: string, rev: string | undefined, data: Record<string, unknown>, known: Map<string, string | undefined>, client: string): Promise<void> {
    const body = { data };
    const h = this.recorder.invoke(key, { kind: 'put', body, ...(rev !== undefined ? { rev } : {}) }, client);
    const start = this.now();
    const a = await this.request('PUT', `/v1/db/${DB}/docs/${key}`, rev !== undefined ? { ...body, rev } : body);
    const out = classifyWriteAnswer(a.status, a.body);
    this.recorder.complete(h, out);
    this.#mark(key, start, out.kind === 'ok');
    if (out.kind === 'ok') {
      this.stats.acked++;
      known.set(key, out.rev);
    } else {
      if (out.kind === 'conflict') this.stats.conflicts++;
      else this.#countFailure(a);
      known.delete(key);
    }
  }

  async #delete(key: string, rev: string, known: Map<string, string | undefined>, client: string): Promise<void> {
    const h = this.recorder.invoke(key, { kind: 'delete', rev }, client);
    const start = this.now();
    const a = await this.request('DELETE', `/v1/db/${DB}/docs/${key}?rev=${encodeURIComponent(rev)}`);
    const out = classifyWriteAnswer(a.status, a.body);
    this.recorder.complete(h, out);
    this.#mark(key, start, out.kind === 'ok');
    if (out.kind === 'ok') this.stats.deletesAcked++;
    else if (out.kind === 'conflict') this.stats.conflicts++;
    else if (out.kind !== 'not_found') this.#countFailure(a);
    known.delete(key);
  }

  /** A recorded read through the router (read=primary: linearizable). */
  async read(key: string, client: string, known?: Map<string, string | undefined>): Promise<void> {
    const h = this.recorder.invoke(key, { kind: 'read' }, client);
    const a = await this.request('GET', `/v1/db/${DB}/docs/${key}`);
    const out = classifyReadAnswer(a.status, a.body);
    this.recorder.complete(h, out);
    this.stats.reads++;
    if (out.kind === 'ok') known?.set(key, out.rev);
    else if (out.kind === 'not_found') known?.delete(key);
  }

  #mark(id: string, startMs: number, ok: boolean): void {
    this.marks.push({ shard: shardFor(id, this.#shards), startMs, endMs: this.now(), ok });
  }

  #countFailure(a: { status: number | NoAnswer; body: unknown }): void {
    const outcome = (a.body as { outcome?: unknown } | null)?.outcome;
    if (typeof a.status !== 'number' || outcome === 'indeterminate') this.stats.indeterminate++;
    else this.stats.failed++;
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
