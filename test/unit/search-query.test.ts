import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_SEARCH_DEPTH, MAX_SEARCH_TERMS, parseSearch, toFts, type SearchNode } from '../../src/core/doc/search-query.ts';

// The _search query language (src/core/doc/search-query.ts): tables of what
// it means, and properties against a real FTS5 table — no query string,
// however odd, reaches SQLite as anything but a valid expression, and what
// it finds is what a naive evaluation of the parsed query over the same
// tokens finds.

const db = new Database(':memory:');
db.exec("CREATE VIRTUAL TABLE t USING fts5(content, tokenize = 'unicode61')");
const TEXTS = [
  'hello tessera world', 'well known facts', 'c++ and rust', 'tessellation of the plane', 'hello again',
  'the world is round', 'known unknowns', 'rust never sleeps', 'plane geometry', 'a b c',
];
const insert = db.prepare('INSERT INTO t (rowid, content) VALUES (?, ?)');
TEXTS.forEach((text, i) => insert.run(i + 1, text));
const match = db.prepare('SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid');
afterAll(() => db.close());

const find = (q: string): number[] => {
  const p = parseSearch(q);
  if (!p.ok) throw new Error(p.error);
  return (match.all(p.fts) as Array<{ rowid: number }>).map((r) => r.rowid);
};

describe('parseSearch: the language', () => {
  it.each([
    ['tessera', [1]],
    ['hello world', [1]],
    ['hello AND world', [1]],
    ['hello OR rust', [1, 3, 5, 8]],
    ['hello NOT again', [1]],
    ['"hello tessera"', [1]],
    ['"tessera hello"', []],
    ['tess*', [1, 4]],
    ['(hello OR rust) NOT sleeps', [1, 3, 5]],
    ['well-known', [2]],
    ['c++', [3, 10]],
    ['known', [2, 7]],
    ['and', [3]],
  ])('%s', (q, ids) => {
    expect(find(q)).toEqual(ids);
  });

  it.each([
    ['*', /prefix needs at least one character/],
    ['', /empty query/],
    ['   ', /empty query/],
    ['"unterminated', /unterminated phrase/],
    ['NOT x', /NOT needs a word before it/],
    ['a OR', /ends where a word was expected/],
    ['(a', /missing "\)"/],
    ['a)', /unbalanced/],
    ['""', /empty phrase/],
    [`${'('.repeat(MAX_SEARCH_DEPTH + 1)}a${')'.repeat(MAX_SEARCH_DEPTH + 1)}`, /nested deeper/],
    [Array.from({ length: MAX_SEARCH_TERMS + 1 }, (_, i) => `w${i}`).join(' '), /more than 64 words/],
  ])('refuses %j', (q, why) => {
    const p = parseSearch(q);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error).toMatch(why);
  });

  it('quotes what FTS5 would read as syntax: column filters, NEAR, carets, quotes', () => {
    expect(parseSearch('content:x').ok && parseSearch('content:x')).toMatchObject({ fts: '"content:x"' });
    expect(parseSearch('NEAR(a b)')).toMatchObject({ ok: true, fts: '"NEAR" AND "a" AND "b"' });
    expect(parseSearch('a\u0000b')).toMatchObject({ ok: false, error: expect.stringMatching(/NUL/) });
    expect(parseSearch('^start')).toMatchObject({ ok: true, fts: '"^start"' });
  });
});

// Strings over an alphabet rich in the language's own characters.
const queryChars = fc.constantFrom(' ', '"', '(', ')', '*', '-', '+', ':', '^', '.', 'a', 'b', 'hello', 'tess', 'AND', 'OR', 'NOT', 'NEAR', 'é', '🙂', '\u0000', '\'', '{', '}');
const oddQuery = fc.oneof(fc.array(queryChars, { maxLength: 30 }).map((a) => a.join('')), fc.string({ unit: 'binary', maxLength: 60 }));

describe('parseSearch: properties', () => {
  it('every query either is refused with a reason or is an expression FTS5 accepts', () => {
    fc.assert(fc.property(oddQuery, (q) => {
      const p = parseSearch(q);
      if (!p.ok) {
        expect(p.error.length).toBeGreaterThan(0);
        return;
      }
      expect(() => match.all(p.fts)).not.toThrow();
    }), { numRuns: 3000 });
  });

  // A naive evaluation of the AST over the same tokens as FTS5's unicode61 (lower-cased alphanumeric runs).
  const tokens = (text: string) => text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  function holds(node: SearchNode, doc: string[]): boolean {
    switch (node.kind) {
      case 'word':
      case 'phrase': {
        const want = tokens(node.text);
        if (want.length === 0) return false;
        for (let i = 0; i + want.length <= doc.length; i++) {
          const ok = want.every((w, k) => (node.kind === 'word' && node.prefix && k === want.length - 1 ? doc[i + k]!.startsWith(w) : doc[i + k] === w));
          if (ok) return true;
        }
        return false;
      }
      case 'and': return node.items.every((n) => holds(n, doc));
      case 'or': return node.items.some((n) => holds(n, doc));
      case 'not': return holds(node.left, doc) && !holds(node.right, doc);
    }
  }
  const word = fc.constantFrom('hello', 'world', 'rust', 'known', 'tess', 'plane', 'the', 'well-known', 'c++', 'a', 'b');
  const node: fc.Arbitrary<SearchNode> = fc.letrec<{ n: SearchNode }>((tie) => ({
    n: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.record({ kind: fc.constant('word' as const), text: word, prefix: fc.boolean() }),
      fc.record({ kind: fc.constant('phrase' as const), text: fc.array(word, { minLength: 1, maxLength: 3 }).map((w) => w.join(' ')) }),
      fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), items: fc.array(tie('n'), { minLength: 2, maxLength: 3 }) }),
      fc.record({ kind: fc.constant('not' as const), left: tie('n'), right: tie('n') }),
    ),
  })).n;

  it('FTS5 finds exactly the documents a naive evaluation of the parsed query finds', () => {
    fc.assert(fc.property(node, (n) => {
      const got = (match.all(toFts(n)) as Array<{ rowid: number }>).map((r) => r.rowid);
      const want = TEXTS.flatMap((t, i) => (holds(n, tokens(t)) ? [i + 1] : []));
      expect(got).toEqual(want);
    }), { numRuns: 1000 });
  });

  // The query text of an AST, every compound part in parentheses.
  function text(n: SearchNode): string {
    const part = (c: SearchNode) => (c.kind === 'word' || c.kind === 'phrase' ? text(c) : `(${text(c)})`);
    switch (n.kind) {
      case 'word': return `${n.text}${n.prefix ? '*' : ''}`;
      case 'phrase': return `"${n.text}"`;
      case 'and': return n.items.map(part).join(' AND ');
      case 'or': return n.items.map(part).join(' OR ');
      case 'not': return `${part(n.left)} NOT ${part(n.right)}`;
    }
  }

  it('a query written from any AST parses back to that AST', () => {
    fc.assert(fc.property(node, (n) => {
      const p = parseSearch(text(n));
      expect(p.ok && p.node).toEqual(n);
    }), { numRuns: 1000 });
  });
});
