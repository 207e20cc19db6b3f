import { describe, expect, it } from 'vitest';
import { LogBuffer } from '../../router/replication/log-buffer.ts';
import type { LogEntry } from '../../src/core/protocol.ts';

const entry = (seq: number, term = 1): LogEntry => ({ seq, term, op: 'put', db: 'd', id: `x${seq}`, rev: '1-a', doc: null, ts: 0 });
const seqs = (es: LogEntry[]) => es.map((e) => e.seq);

describe('LogBuffer', () => {
  it('returns contiguous entries in seq order, whatever order they arrived in', () => {
    const b = new LogBuffer({ maxEntries: 100, maxBytes: 1e9 });
    b.add([entry(3)]);
    b.add([entry(1), entry(2)]);
    b.add([entry(5)]);
    expect(seqs(b.range(1, 10, 1e9))).toEqual([1, 2, 3]); // stops at the hole at 4
    b.add([entry(4)]);
    expect(seqs(b.range(1, 10, 1e9))).toEqual([1, 2, 3, 4, 5]);
    expect(seqs(b.range(4, 10, 1e9))).toEqual([4, 5]);
    expect(b.range(6, 10, 1e9)).toEqual([]);
  });

  it('batches at most maxEntries and maxBytes, but always at least one entry', () => {
    const b = new LogBuffer({ maxEntries: 100, maxBytes: 1e9 });
    b.add([entry(1), entry(2), entry(3), entry(4)], 4000); // ~1000 bytes each
    expect(seqs(b.range(1, 2, 1e9))).toEqual([1, 2]);
    expect(seqs(b.range(1, 10, 2500))).toEqual([1, 2]);
    expect(seqs(b.range(1, 10, 10))).toEqual([1]);
  });

  it('evicts the oldest entries beyond its count and byte bounds', () => {
    const b = new LogBuffer({ maxEntries: 3, maxBytes: 1e9 });
    b.add([1, 2, 3, 4, 5].map((s) => entry(s)));
    expect(b.size).toBe(3);
    expect(b.lowestSeq()).toBe(3);
    expect(b.has(2)).toBe(false);
    const small = new LogBuffer({ maxEntries: 100, maxBytes: 2500 });
    small.add([entry(1), entry(2), entry(3)], 3000);
    expect(small.lowestSeq()).toBe(2);
    expect(small.bytes).toBeLessThanOrEqual(2500);
  });

  it('evicts across holes without scanning seq by seq', () => {
    const b = new LogBuffer({ maxEntries: 2, maxBytes: 1e9 });
    b.add([entry(1)]);
    b.add([entry(1_000_000)]);
    b.add([entry(2_000_000)]);
    expect(b.lowestSeq()).toBe(1_000_000);
    expect(b.size).toBe(2);
  });

  it('ignores re-added entries and clears fully', () => {
    const b = new LogBuffer({ maxEntries: 10, maxBytes: 1e9 });
    b.add([entry(1), entry(2)]);
    b.add([entry(2, 9)]);
    expect(b.get(2)?.term).toBe(1);
    b.clear();
    expect(b.size).toBe(0);
    expect(b.lowestSeq()).toBeNull();
    expect(b.highestSeq).toBe(0);
  });
});
