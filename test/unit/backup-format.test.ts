import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareSummaries, ContentDigest, manifestProblems, mergeSummaries, renderProgress, FORMAT, FORMAT_VERSION,
} from '../../src/cli/backup/format.ts';
import type { Doc } from '../../src/core/protocol.ts';

// The pure parts of the backup format: the content digest proves two
// clusters equal whatever their shard layout, the manifest check, the progress line.

const docArb = fc.record({
  db: fc.constantFrom('a', 'b', 'c'),
  id: fc.stringMatching(/^[a-z0-9]{1,6}$/),
  n: fc.integer({ min: 0, max: 5 }),
  deleted: fc.boolean(),
});

function digestOf(docs: Array<{ db: string; id: string; n: number; deleted: boolean }>, shards: number): Record<string, ReturnType<ContentDigest['summary']>[string]> {
  const parts = Array.from({ length: shards }, () => new ContentDigest());
  docs.forEach((d, i) => {
    const doc: Doc = { id: d.id, rev: `1-${'0'.repeat(40)}`, data: { n: d.n, z: 1, a: 2 }, ...(d.deleted ? { deleted: true as const } : {}) };
    parts[i % shards]!.addDoc(d.db, doc);
  });
  return mergeSummaries(parts.map((p) => p.summary()));
}

const unique = <T extends { db: string; id: string }>(xs: T[]) => [...new Map(xs.map((x) => [`${x.db}/${x.id}`, x])).values()];

describe('ContentDigest', () => {
  it('is the same for the same documents whatever the shard count and order', () => {
    fc.assert(fc.property(fc.array(docArb, { maxLength: 40 }).map(unique), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), (docs, s1, s2) => {
      expect(digestOf([...docs].reverse(), s2)).toEqual(digestOf(docs, s1));
    }));
  });

  it('differs when one document differs, is missing, or is there twice; key order inside a document does not matter', () => {
    const base = [{ db: 'a', id: 'x', n: 1, deleted: false }, { db: 'a', id: 'y', n: 2, deleted: false }];
    const d = digestOf(base, 1);
    expect(compareSummaries(d, digestOf([{ ...base[0]!, n: 9 }, base[1]!], 1))).toHaveLength(1);
    expect(compareSummaries(d, digestOf([base[0]!], 1))).toHaveLength(1);
    expect(compareSummaries(d, digestOf([...base, base[0]!], 1))).toHaveLength(1);
    expect(compareSummaries(d, digestOf(base, 2))).toEqual([]);
    const one = new ContentDigest();
    one.addDoc('a', { id: 'x', rev: '1-a', data: { p: 1, q: 2 } });
    const other = new ContentDigest();
    other.addDoc('a', { data: { q: 2, p: 1 }, rev: '1-a', id: 'x' });
    expect(one.summary()).toEqual(other.summary());
  });

  it('counts tombstones and names dbs on either side only', () => {
    const s = digestOf([{ db: 'a', id: 'x', n: 1, deleted: true }], 1);
    expect(s.a).toMatchObject({ docs: 1, deleted: 1 });
    expect(compareSummaries({ ...s, e: { docs: 0, deleted: 0, digest: '0'.repeat(64) } }, s)).toEqual(['e: in the backup, not in the cluster']);
  });
});

describe('manifestProblems', () => {
  const good = { format: FORMAT, version: FORMAT_VERSION, dbs: {}, shards: [{ shard: 0, file: 'shard-0.ndjson', seq: 3, term: 1, docs: 1, dbs: 1, bytes: 10, sha256: 'a'.repeat(64) }] };
  it('accepts a manifest and names what is wrong with others', () => {
    expect(manifestProblems(good)).toEqual([]);
    expect(manifestProblems(null)).toEqual(['not a JSON object']);
    expect(manifestProblems({ ...good, format: 'x', version: 2 })).toEqual([`format: expected "${FORMAT}"`, `version: expected ${FORMAT_VERSION}`]);
    expect(manifestProblems({ ...good, shards: [{ ...good.shards[0], file: '../etc/passwd' }] })[0]).toMatch(/^shards\[0\]/);
    expect(manifestProblems({ ...good, shards: [{ ...good.shards[0], sha256: 'nope' }] })[0]).toMatch(/^shards\[0\]/);
  });
});

describe('renderProgress', () => {
  it('shows bytes, documents, rate and ETA', () => {
    expect(renderProgress({ label: 'backup', bytes: 2_500_000, docs: 500, totalDocs: 1000, elapsedMs: 2000 }, 10))
      .toBe('backup [#####-----]  50%  2.5 MB  500/1000 docs  250 docs/s  1.3 MB/s  ETA 2s');
    expect(renderProgress({ label: 'restore', bytes: 999, docs: 3, totalDocs: 0, elapsedMs: 1000 }))
      .toBe('restore [?]  999 B  3 docs  3 docs/s  999 B/s  ETA ?');
    expect(renderProgress({ label: 'b', bytes: 0, docs: 10, totalDocs: 10_000, elapsedMs: 1000 }, 4)).toMatch(/ETA 16m39s$/);
  });
});
