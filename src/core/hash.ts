// Shard placement (DESIGN §5.3): murmur3_x86_32 over the UTF-8 bytes of the id,
// seed 0x9747b28c, made non-negative, modulo the shard count. This is the
// PeaceDatabase placement, so existing data maps to the same shards.

export const PLACEMENT_SEED = 0x9747b28c;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

export function murmur3x86_32(bytes: Uint8Array, seed = 0): number {
  let h = seed >>> 0;
  const len = bytes.length;
  const blocks = len & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (len & 3) {
    case 3: k ^= bytes[blocks + 2]! << 16; // falls through
    case 2: k ^= bytes[blocks + 1]! << 8; // falls through
    case 1:
      k ^= bytes[blocks]!;
      k = Math.imul(k, C1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, C2);
      h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const encoder = new TextEncoder();

/** The shard that owns document `id` among `shardCount` shards. */
export function shardFor(id: string, shardCount: number): number {
  return (murmur3x86_32(encoder.encode(id), PLACEMENT_SEED) & 0x7fffffff) % shardCount;
}
