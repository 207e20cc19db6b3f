import { createHash } from 'node:crypto';
import { canonicalJson } from './doc/canonical.ts';

// Anti-entropy digests (`tessera verify`, router/VERIFY.md), as in Cassandra's
// Merkle-tree repair: every copy of a shard hashes its documents into the
// leaves of a fixed tree over the ids' hash space, so two copies agree on the
// ranges without exchanging boundaries; comparing trees from the root down
// finds the ranges that differ, and only their documents are listed. Pure:
// the node feeds it rows, the router compares what the nodes send.

/** A leaf holds the documents whose token's top `depth` bits are its index. */
export const DEFAULT_DEPTH = 10;
export const MAX_DEPTH = 16;

const encoder = new TextEncoder();

/** A document's place in the hash space: the first 32 bits of sha1(db \0 id). */
export function docToken(db: string, id: string): number {
  return createHash('sha1').update(encoder.encode(`${db}\u0000${id}`)).digest().readUInt32BE(0);
}

export function leafOf(token: number, depth: number): number {
  return depth === 0 ? 0 : token >>> (32 - depth);
}

/**
 * What a copy holds for one document, hashed: its db and its whole stored
 * body (id, rev, deleted, data, tags, content) in canonical JSON, so equal
 * documents hash equal whatever key order each copy stored, and a body
 * changed behind a rev's back is caught even though the rev still matches.
 */
export function docHash(db: string, body: unknown): Buffer {
  return createHash('sha1').update(`${db}\u0000${canonicalJson(body)}`).digest();
}

/** Accumulates the leaves of one copy: XOR of its documents' hashes (order-free, one pass) and a count. */
export class LeafAccumulator {
  readonly depth: number;
  readonly #xor: Buffer[];
  readonly #count: number[];

  constructor(depth: number) {
    if (!Number.isInteger(depth) || depth < 0 || depth > MAX_DEPTH) throw new RangeError(`depth ${depth} outside 0..${MAX_DEPTH}`);
    this.depth = depth;
    const n = 2 ** depth;
    this.#xor = Array.from({ length: n }, () => Buffer.alloc(20));
    this.#count = new Array<number>(n).fill(0);
  }

  add(leaf: number, hash: Buffer): void {
    const acc = this.#xor[leaf]!;
    for (let i = 0; i < 20; i++) acc[i]! ^= hash[i]!;
    this.#count[leaf]!++;
  }

  /** One string per leaf: `count:xorHex`, or '' for an empty leaf (a compact answer for sparse shards). */
  leaves(): string[] {
    return this.#xor.map((x, i) => (this.#count[i] === 0 ? '' : `${this.#count[i]}:${x.toString('hex')}`));
  }
}

/** Documents in a leaf string ('' → 0). */
export function leafCount(leaf: string): number {
  return leaf === '' ? 0 : Number(leaf.slice(0, leaf.indexOf(':')));
}

/**
 * The tree over `leaves` (a power of two of them), as levels from the root
 * (`[root]`) down to the leaves. A parent is sha1 of its children; an empty
 * subtree hashes to '' so sparse trees stay cheap and equal.
 */
export function buildTree(leaves: readonly string[]): string[][] {
  if (leaves.length === 0 || (leaves.length & (leaves.length - 1)) !== 0) throw new RangeError(`${leaves.length} leaves: not a power of two`);
  const levels: string[][] = [[...leaves]];
  while (levels[0]!.length > 1) {
    const below = levels[0]!;
    const up: string[] = [];
    for (let i = 0; i < below.length; i += 2) {
      const l = below[i]!;
      const r = below[i + 1]!;
      up.push(l === '' && r === '' ? '' : createHash('sha1').update(`${l}|${r}`).digest('hex'));
    }
    levels.unshift(up);
  }
  return levels;
}

export interface TreeDiff {
  /** Leaf indexes where `a` and `b` differ, ascending. */
  leaves: number[];
  /** Tree nodes compared on the way down (the cost a full leaf comparison would multiply). */
  compared: number;
}

/** Walks both trees from the root, into a subtree only where its hashes differ. */
export function diffTrees(a: readonly string[][], b: readonly string[][]): TreeDiff {
  if (a.length !== b.length) throw new RangeError(`trees of depth ${a.length - 1} and ${b.length - 1}`);
  const leaves: number[] = [];
  let compared = 0;
  const walk = (level: number, index: number) => {
    compared++;
    if (a[level]![index] === b[level]![index]) return;
    if (level === a.length - 1) {
      leaves.push(index);
      return;
    }
    walk(level + 1, 2 * index);
    walk(level + 1, 2 * index + 1);
  };
  walk(0, 0);
  return { leaves, compared };
}
