import { describe, expect, it } from 'vitest';
import { computeRev } from '../../../src/core/doc/rev.ts';
import type { Doc } from '../../../src/core/protocol.ts';
import { planRestore, type Head } from '../../../src/rules/index.ts';

// Restoring a document keeps its rev (README "Backup and restore"): written
// when absent, a no-op when the same rev is there (a repeated batch), refused
// when another rev is there or when the rev does not hash the content.

const body = { data: { a: 1 }, tags: ['x'] };
const rev3 = computeRev(3, body);
const doc = { id: 'd', rev: rev3, ...body };
const head = (rev: string, deleted = false): Head => ({ rev, deleted, parentRev: null, created: true, seq: 7 });

describe('planRestore', () => {
  it.each([
    ['absent: written as is', null, doc, 'write'],
    ['the same rev is here: nothing to write (a repeat)', head(rev3), doc, 'same'],
    ['another rev is here: conflict (the target was not empty)', head(computeRev(1, body)), doc, 'conflict'],
    ['a tombstone restores as a tombstone', null, { id: 't', rev: computeRev(2, { data: {}, deleted: true }), data: {}, deleted: true as const }, 'write'],
    ['content changed under its rev: refused', null, { ...doc, data: { a: 2 } }, 'bad'],
    ['a tag added under its rev: refused', null, { ...doc, tags: ['x', 'y'] }, 'bad'],
    ['deleted flag dropped from a tombstone: refused', null, { id: 't', rev: computeRev(2, { data: {}, deleted: true }), data: {} }, 'bad'],
    ['not a rev at all', null, { ...doc, rev: 'garbage' }, 'bad'],
  ] as const)('%s', (_name, h, d, kind) => {
    expect(planRestore(h, d as Doc).kind).toBe(kind);
  });
});
