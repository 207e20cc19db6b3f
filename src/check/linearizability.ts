import { formatKeyVerdict, plural, type Describe } from './report.ts';

// Linearizability of a history against a sequential model: Wing & Gong's
// search with Lowe's memoization, the algorithm Porcupine uses, one key at a
// time (P-compositionality). See src/check/DESIGN.md for why each choice is
// sound.

export interface Operation<I, O> {
  /** Operations on different keys never constrain each other (one document each). */
  readonly key: string;
  readonly input: I;
  readonly output: O;
  /** Monotonic ms when the request was sent. */
  readonly call: number;
  /**
   * Monotonic ms when the answer arrived; `Infinity` when the outcome is
   * unknown: the op may take effect at any time after `call`, or never.
   */
  readonly return: number;
  /** Who issued it; for reports only. */
  readonly client?: string;
}

/** A sequential specification. Must be pure: never mutate a state. */
export interface Model<S, I, O> {
  init(): S;
  /**
   * Every state the op may leave when it takes effect on `state` and answers
   * `output`: one for a deterministic step, several when the outcome is
   * unknown, none when the answer is impossible on `state`.
   */
  step(state: S, input: I, output: O): readonly S[];
  /** Equal states must have equal keys, and only they: the caches rely on it. */
  key(state: S): string;
  describeOp?(input: I, output: O): string;
  describeState?(state: S): string;
  /** Why this op cannot take effect here (or what it would do), for reports. */
  explain?(state: S, input: I, output: O): string;
}

export interface CheckOptions {
  /** Search steps per key before giving up with `unknown`. */
  maxSteps?: number;
  /** Wall time per key before giving up with `unknown`. */
  maxMs?: number;
  /** The clock `maxMs` is measured with. */
  now?: () => number;
}

export const DEFAULT_MAX_STEPS = 2_000_000;
export const DEFAULT_MAX_MS = 10_000;

export interface PlacedOp<I, O> {
  readonly op: Operation<I, O>;
  /** The model state right after it, as `describeState` renders it. */
  readonly state: string;
}

export interface Violation<I, O> {
  /** The longest linearizable prefix the search found, in linearization order. */
  readonly prefix: readonly PlacedOp<I, O>[];
  /** The model state after the prefix. */
  readonly state: string;
  /** The not yet placed op that returned first: something had to be placed before it returned. */
  readonly deadline: Operation<I, O>;
  /** Every op that could have come next, each with why it cannot. */
  readonly unplaceable: readonly { readonly op: Operation<I, O>; readonly why: string }[];
}

interface VerdictBase {
  readonly key: string;
  readonly ops: number;
  readonly steps: number;
  readonly elapsedMs: number;
}

export type Finding<I, O> =
  /** `linearization`: a witness order; indeterminate ops that never took effect are left out. */
  | { readonly status: 'ok'; readonly linearization: readonly Operation<I, O>[] }
  | { readonly status: 'violation'; readonly violation: Violation<I, O> }
  | { readonly status: 'unknown'; readonly reason: string };

/** A key's verdict before it is rendered. */
export type BareVerdict<I, O> = VerdictBase & Finding<I, O>;

/** `report`: human-readable, meant for a test failure message or a CLI. */
export type KeyVerdict<I, O> = BareVerdict<I, O> & { readonly report: string };

export interface CheckResult<I, O> {
  /** `violation` if any key has one, else `unknown` if any key ran out of budget, else `ok`. */
  readonly status: 'ok' | 'violation' | 'unknown';
  readonly keys: readonly KeyVerdict<I, O>[];
  readonly report: string;
}

/** Checks every key independently and aggregates the verdicts. */
export function checkHistory<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[], options: CheckOptions = {}): CheckResult<I, O> {
  const byKey = new Map<string, Operation<I, O>[]>();
  for (const op of history) {
    assertOperation(op);
    let ops = byKey.get(op.key);
    if (!ops) byKey.set(op.key, (ops = []));
    ops.push(op);
  }
  const keys = [...byKey].map(([key, ops]) => checkKey(model, key, ops, options));
  const status = keys.some((k) => k.status === 'violation') ? 'violation' : keys.some((k) => k.status === 'unknown') ? 'unknown' : 'ok';
  const counts = { ok: 0, violation: 0, unknown: 0 };
  for (const k of keys) counts[k.status]++;
  const head = `${status}: ${plural(keys.length, 'key')}, ${plural(history.length, 'op')} (${counts.ok} ok, ${counts.violation} violation, ${counts.unknown} unknown)`;
  const details = keys.filter((k) => k.status !== 'ok').map((k) => k.report);
  return { status, keys, report: [head, ...details].join('\n\n') };
}

/** Checks the operations of one key (all of `ops` are taken to be on `key`). */
export function checkKey<S, I, O>(model: Model<S, I, O>, key: string, ops: readonly Operation<I, O>[], options: CheckOptions = {}): KeyVerdict<I, O> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  for (const op of ops) assertOperation(op);
  const search = new Search(model, ops, options.maxSteps ?? DEFAULT_MAX_STEPS, started + (options.maxMs ?? DEFAULT_MAX_MS), now);
  const end = search.run();
  const base = { key, ops: ops.length, steps: search.steps, elapsedMs: now() - started };
  const describe = describer(model);
  let verdict: BareVerdict<I, O>;
  if (end.kind === 'ok') {
    verdict = { ...base, status: 'ok', linearization: end.order.map((i) => ops[i]!) };
  } else if (end.kind === 'unknown') {
    verdict = { ...base, status: 'unknown', reason: `${end.reason}; the longest linearizable prefix found so far has ${search.bestDepth} of ${ops.length} ops` };
  } else {
    verdict = { ...base, status: 'violation', violation: search.violation(describe) };
  }
  return { ...verdict, report: formatKeyVerdict(verdict, describe) };
}

function describer<S, I, O>(model: Model<S, I, O>): Describe<S, I, O> {
  return {
    op: (op) => model.describeOp?.(op.input, op.output) ?? `${JSON.stringify(op.input)} → ${JSON.stringify(op.output)}`,
    state: (s) => model.describeState?.(s) ?? model.key(s),
    why: (s, op) => model.explain?.(s, op.input, op.output) ?? 'the model rejects it in this state',
  };
}

// A malformed history is the caller's bug, not a finding: crash (STYLE §4).
function assertOperation(op: Operation<unknown, unknown>): void {
  if (!Number.isFinite(op.call) || Number.isNaN(op.return) || op.return < op.call) {
    throw new Error(`invalid operation on ${op.key}: call ${op.call}, return ${op.return} (need a finite call <= return)`);
  }
}

// ---- the search -------------------------------------------------------------

/** One call or return event; the list holds only ops not yet linearized. */
interface Entry {
  readonly op: number;
  readonly isCall: boolean;
  /** A call's return; null for a pending op, which has no return to meet. */
  readonly match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

interface Branch<S> { readonly state: S; readonly key: string }

/** A linearized op, with what is needed to undo it and try its other outcomes. */
interface Frame<S> {
  readonly entry: Entry;
  readonly before: Branch<S>;
  readonly branches: readonly Branch<S>[];
  readonly nextBranch: number;
}

type End = { kind: 'ok'; order: number[] } | { kind: 'violation' } | { kind: 'unknown'; reason: string };

interface DeadEnd<S> {
  readonly frames: readonly Frame<S>[];
  readonly state: Branch<S>;
  readonly deadline: number;
  readonly candidates: readonly number[];
}

class Search<S, I, O> {
  readonly #model: Model<S, I, O>;
  readonly #ops: readonly Operation<I, O>[];
  readonly #head: Entry;
  readonly #linearized: Uint16Array;
  /** Lowe's memo: (linearized set, state) pairs already explored. */
  readonly #seen = new Set<string>();
  /** The model is pure, so a step on the same (op, state) is computed once. */
  readonly #stepCache: Map<string, readonly Branch<S>[]>[];
  readonly #frames: Frame<S>[] = [];
  readonly #maxSteps: number;
  readonly #deadline: number;
  readonly #now: () => number;
  #state: Branch<S>;
  /** Completed ops not yet linearized; at 0 the history is linearizable. */
  #unplaced: number;
  #best: DeadEnd<S> | null = null;
  #stepCount = 0;

  constructor(model: Model<S, I, O>, ops: readonly Operation<I, O>[], maxSteps: number, deadline: number, now: () => number) {
    this.#model = model;
    this.#ops = ops;
    this.#maxSteps = maxSteps;
    this.#deadline = deadline;
    this.#now = now;
    this.#head = linkEntries(ops);
    this.#linearized = new Uint16Array(Math.ceil(ops.length / 16));
    this.#stepCache = ops.map(() => new Map());
    const init = model.init();
    this.#state = { state: init, key: model.key(init) };
    this.#unplaced = ops.filter((op) => op.return !== Infinity).length;
  }

  get steps(): number {
    return this.#stepCount;
  }

  /** The deepest prefix reached, dead end or not (for an `unknown` verdict). */
  get bestDepth(): number {
    return Math.max(this.#best?.frames.length ?? 0, this.#frames.length);
  }

  run(): End {
    let cursor = this.#head.next;
    for (;;) {
      if (this.#unplaced === 0) return { kind: 'ok', order: this.#frames.map((f) => f.entry.op) };
      if (++this.#stepCount > this.#maxSteps) return { kind: 'unknown', reason: `step budget exceeded (${this.#maxSteps} steps)` };
      // Reading the clock every step would cost more than the step itself.
      if ((this.#stepCount & 1023) === 0 && this.#now() > this.#deadline) return { kind: 'unknown', reason: 'time budget exceeded' };
      // Ops still unplaced keep their return in the list, so the walk meets one before the end.
      if (cursor === null) throw new Error('linearizability search walked past every return');
      if (cursor.isCall) {
        cursor = this.#place(cursor, this.#branches(cursor.op), 0) ? this.#head.next : cursor.next;
        continue;
      }
      // An unplaced op has returned: the prefix cannot grow from here. Undo
      // the last op and try its next outcome, else the next candidate.
      this.#noteDeadEnd(cursor);
      const frame = this.#frames.pop();
      if (!frame) return { kind: 'violation' };
      this.#undo(frame);
      cursor = this.#place(frame.entry, frame.branches, frame.nextBranch) ? this.#head.next : frame.entry.next;
    }
  }

  #branches(op: number): readonly Branch<S>[] {
    const memo = this.#stepCache[op]!;
    const cached = memo.get(this.#state.key);
    if (cached) return cached;
    const { input, output } = this.#ops[op]!;
    let branches = this.#model.step(this.#state.state, input, output).map((state) => ({ state, key: this.#model.key(state) }));
    // A pending op may be left out of the linearization altogether, so
    // placing it without changing the state would only repeat the search.
    if (this.#ops[op]!.return === Infinity) branches = branches.filter((b) => b.key !== this.#state.key);
    memo.set(this.#state.key, branches);
    return branches;
  }

  /** Linearizes `entry` with the first outcome from `from` on not explored yet. */
  #place(entry: Entry, branches: readonly Branch<S>[], from: number): boolean {
    if (from >= branches.length) return false;
    setBit(this.#linearized, entry.op);
    const bits = bitsKey(this.#linearized);
    for (let i = from; i < branches.length; i++) {
      const branch = branches[i]!;
      const seen = `${bits}\u0000${branch.key}`;
      if (this.#seen.has(seen)) continue;
      this.#seen.add(seen);
      this.#frames.push({ entry, before: this.#state, branches, nextBranch: i + 1 });
      this.#state = branch;
      lift(entry);
      if (entry.match) this.#unplaced--;
      return true;
    }
    clearBit(this.#linearized, entry.op);
    return false;
  }

  #undo(frame: Frame<S>): void {
    unlift(frame.entry);
    clearBit(this.#linearized, frame.entry.op);
    this.#state = frame.before;
    if (frame.entry.match) this.#unplaced++;
  }

  #noteDeadEnd(deadline: Entry): void {
    if (this.#best && this.#best.frames.length >= this.#frames.length) return;
    // At the deepest dead end, every call still before the deadline failed
    // here: one that could be placed would have led deeper.
    const candidates: number[] = [];
    for (let e = this.#head.next; e !== null && e !== deadline; e = e.next) if (e.isCall) candidates.push(e.op);
    this.#best = { frames: [...this.#frames], state: this.#state, deadline: deadline.op, candidates };
  }

  violation(d: Describe<S, I, O>): Violation<I, O> {
    const best = this.#best!;
    return {
      prefix: best.frames.map((f, i) => ({ op: this.#ops[f.entry.op]!, state: d.state((best.frames[i + 1]?.before ?? best.state).state) })),
      state: d.state(best.state.state),
      deadline: this.#ops[best.deadline]!,
      unplaceable: best.candidates.map((i) => ({ op: this.#ops[i]!, why: d.why(best.state.state, this.#ops[i]!) })),
    };
  }
}

/**
 * The events in time order behind a sentinel head. At equal times calls come
 * first: the intervals are closed, so ops that touch at one instant count as
 * concurrent (a coarse clock must never manufacture a violation).
 */
function linkEntries(ops: readonly Operation<unknown, unknown>[]): Entry {
  const events: Array<{ time: number; entry: Entry }> = [];
  ops.forEach((op, i) => {
    const ret: Entry | null = op.return === Infinity ? null : { op: i, isCall: false, match: null, prev: null, next: null };
    events.push({ time: op.call, entry: { op: i, isCall: true, match: ret, prev: null, next: null } });
    if (ret) events.push({ time: op.return, entry: ret });
  });
  events.sort((a, b) => a.time - b.time || Number(b.entry.isCall) - Number(a.entry.isCall) || a.entry.op - b.entry.op);
  const head: Entry = { op: -1, isCall: false, match: null, prev: null, next: null };
  let last = head;
  for (const { entry } of events) {
    last.next = entry;
    entry.prev = last;
    last = entry;
  }
  return head;
}

// Dancing links: an entry keeps its own pointers while out of the list, so the
// LIFO undo of the search puts it back in O(1).
function lift(call: Entry): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match;
  if (ret) {
    ret.prev!.next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  }
}

function unlift(call: Entry): void {
  const ret = call.match;
  if (ret) {
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
  }
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

function setBit(bits: Uint16Array, i: number): void {
  bits[i >> 4]! |= 1 << (i & 15);
}

function clearBit(bits: Uint16Array, i: number): void {
  bits[i >> 4]! &= ~(1 << (i & 15));
}

/** The bitset as a string, 16 ops a character: a compact exact memo key. */
function bitsKey(bits: Uint16Array): string {
  let s = '';
  for (let i = 0; i < bits.length; i += 4096) s += String.fromCharCode(...bits.subarray(i, i + 4096));
  return s;
}
