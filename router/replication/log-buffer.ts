import type { LogEntry } from '../../src/core/protocol.ts';

// Recent log entries of one shard by seq, as the primary's write answers
// returned them, so relaying to replicas almost never reads the primary's WAL
// (router/DESIGN.md "Write path"). Bounded by count and by approximate bytes;
// the oldest entries go first. A miss only costs a WAL read.

export interface LogBufferLimits {
  maxEntries: number;
  maxBytes: number;
}

export class LogBuffer {
  readonly #limits: LogBufferLimits;
  readonly #entries = new Map<number, { entry: LogEntry; bytes: number }>();
  #bytes = 0;
  #low = Number.POSITIVE_INFINITY;
  #high = 0;

  constructor(limits: LogBufferLimits) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Highest seq ever added (0 when empty since the last clear). */
  get highestSeq(): number {
    return this.#high;
  }

  /** Adds entries; `approxBytes` is their wire size (shared evenly) so we never re-serialise to measure. */
  add(entries: ReadonlyArray<LogEntry>, approxBytes = 0): void {
    if (entries.length === 0) return;
    const each = Math.max(64, Math.ceil(approxBytes / entries.length));
    for (const entry of entries) {
      if (this.#entries.has(entry.seq)) continue;
      this.#entries.set(entry.seq, { entry, bytes: each });
      this.#bytes += each;
      if (entry.seq < this.#low) this.#low = entry.seq;
      if (entry.seq > this.#high) this.#high = entry.seq;
    }
    this.#evict();
  }

  get(seq: number): LogEntry | undefined {
    return this.#entries.get(seq)?.entry;
  }

  has(seq: number): boolean {
    return this.#entries.has(seq);
  }

  /** Lowest seq held, or null when empty. */
  lowestSeq(): number | null {
    return this.#entries.size === 0 ? null : this.#low;
  }

  /** Contiguous entries from `fromSeq`, stopping at the first hole or a limit. */
  range(fromSeq: number, maxEntries: number, maxBytes: number): LogEntry[] {
    const out: LogEntry[] = [];
    let bytes = 0;
    for (let seq = fromSeq; out.length < maxEntries; seq++) {
      const slot = this.#entries.get(seq);
      if (!slot) break;
      if (out.length > 0 && bytes + slot.bytes > maxBytes) break;
      out.push(slot.entry);
      bytes += slot.bytes;
    }
    return out;
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
    this.#low = Number.POSITIVE_INFINITY;
    this.#high = 0;
  }

  #minKey(): number {
    let low = Number.POSITIVE_INFINITY;
    for (const seq of this.#entries.keys()) if (seq < low) low = seq;
    return low;
  }

  #evict(): void {
    while (this.#entries.size > 0 && (this.#entries.size > this.#limits.maxEntries || this.#bytes > this.#limits.maxBytes)) {
      const slot = this.#entries.get(this.#low);
      if (slot) {
        this.#entries.delete(this.#low);
        this.#bytes -= slot.bytes;
      }
      this.#low = this.#entries.has(this.#low + 1) ? this.#low + 1 : this.#minKey();
    }
  }
}
