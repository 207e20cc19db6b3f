import { describe, expect, it } from 'vitest';
import { matchesFields, matchesTags } from '../../shard/store/query-match.ts';
import type { Doc } from '../../src/core/protocol.ts';

const doc = (data: Record<string, unknown>, tags?: string[]): Doc => ({ id: 'x', rev: '1-a', data, ...(tags ? { tags } : {}) });

describe('matchesFields', () => {
  it.each([
    ['number equals number', { n: 1 }, { equalsMap: { n: 1 } }, true],
    ['1 is not "1"', { n: 1 }, { equalsMap: { n: '1' } }, false],
    ['"1" is not 1', { n: '1' }, { equalsMap: { n: 1 } }, false],
    ['true is not 1', { n: true }, { equalsMap: { n: 1 } }, false],
    ['null matches only null', { n: null }, { equalsMap: { n: null } }, true],
    ['a missing field is not null', {}, { equalsMap: { n: null } }, false],
    ['objects compare by value, key order aside', { o: { a: 1, b: [2] } }, { equalsMap: { o: { b: [2], a: 1 } } }, true],
    ['min is inclusive', { n: 5 }, { numericField: 'n', min: 5 }, true],
    ['max is inclusive', { n: 5 }, { numericField: 'n', max: 5 }, true],
    ['below min', { n: 4.9 }, { numericField: 'n', min: 5 }, false],
    ['above max', { n: 5.1 }, { numericField: 'n', max: 5 }, false],
    ['a numeric string is not a number', { n: '5' }, { numericField: 'n', min: 0 }, false],
    ['both filters must hold', { n: 5, k: 'a' }, { equalsMap: { k: 'b' }, numericField: 'n', min: 0 }, false],
  ] as const)('%s', (_n, data, q, expected) => {
    expect(matchesFields(doc(data), q)).toBe(expected);
  });
});

describe('matchesTags', () => {
  it.each([
    ['allOf all present', ['a', 'b', 'c'], { allOf: ['a', 'b'] }, true],
    ['allOf one missing', ['a'], { allOf: ['a', 'b'] }, false],
    ['anyOf one present', ['b'], { anyOf: ['a', 'b'] }, true],
    ['anyOf none present', ['c'], { anyOf: ['a', 'b'] }, false],
    ['noneOf hit', ['a', 'c'], { noneOf: ['c'] }, false],
    ['noneOf clear', ['a'], { noneOf: ['c'] }, true],
    ['no tags at all', undefined, { allOf: ['a'] }, false],
    ['combined', ['a', 'b'], { allOf: ['a'], anyOf: ['b', 'z'], noneOf: ['c'] }, true],
  ] as const)('%s', (_n, tags, q, expected) => {
    expect(matchesTags(doc({}, tags ? [...tags] : undefined), q)).toBe(expected);
  });
});
