import { describe, expect, it } from 'vitest';
import { murmur3x86_32, PLACEMENT_SEED, shardFor } from '../../src/core/hash.ts';

// Placement must match PeaceDatabase's murmur3 x86_32 exactly (DESIGN §5.3):
// published reference vectors, then the shard mapping built on it.

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('murmur3 x86_32', () => {
  it.each([
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['test', 0x9747b28c, 0x704b81dc],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ])('hash(%j, seed %i) = %i', (input, seed, expected) => {
    expect(murmur3x86_32(utf8(input), seed)).toBe(expected);
  });

  it('covers every tail length (0..3 trailing bytes)', () => {
    // Known values for "a".."abcd" with seed 0 (reference implementation).
    expect(murmur3x86_32(utf8('a'), 0)).toBe(0x3c2569b2);
    expect(murmur3x86_32(utf8('ab'), 0)).toBe(0x9bbfd75f);
    expect(murmur3x86_32(utf8('abc'), 0)).toBe(0xb3dd93fa);
    expect(murmur3x86_32(utf8('abcd'), 0)).toBe(0x43ed676a);
  });
});

describe('shardFor', () => {
  it('is the non-negative hash with the placement seed, modulo the shard count', () => {
    for (const id of ['a', 'doc-1', 'Hello, world!', 'zz~top_9']) {
      const h = murmur3x86_32(utf8(id), PLACEMENT_SEED) & 0x7fffffff;
      expect(shardFor(id, 3)).toBe(h % 3);
      expect(shardFor(id, 1)).toBe(0);
    }
    expect(shardFor('test', 7)).toBe((0x704b81dc & 0x7fffffff) % 7);
  });

  it('spreads 30000 ids evenly over 3 and 8 shards (each within 5% of fair)', () => {
    for (const shards of [3, 8]) {
      const counts = new Array<number>(shards).fill(0);
      const n = 30_000;
      for (let i = 0; i < n; i++) counts[shardFor(`doc-${i}`, shards)]!++;
      const fair = n / shards;
      for (const c of counts) expect(Math.abs(c - fair) / fair).toBeLessThan(0.05);
    }
  });
});
