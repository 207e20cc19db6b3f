// The `_search` query language (README "Full-text search"), parsed here and
// printed as an FTS5 expression in which every word is a quoted string, so
// nothing a client types reaches FTS5's own syntax: no column filters, no
// NEAR, no bare operators, no syntax errors. Pure: text in, AST or error out.
//
//   query  := or
//   or     := and ( "OR" and )*
//   and    := not ( ["AND"] not )*        words side by side mean AND
//   not    := atom ( "NOT" atom )*         a NOT b: a, but not b (FTS5's binary NOT)
//   atom   := "(" or ")" | "\"" words "\"" | word | word"*"
//
// Operators are upper-case (lower-case `and` is a word, as in FTS5). A word
// is any run of characters other than space, `"`, `(` and `)`; FTS5's
// tokenizer then splits it like the indexed text (`well-known` → the phrase
// "well known"). A trailing `*` makes a word a prefix (`tess*`).

export type SearchNode =
  | { kind: 'word'; text: string; prefix: boolean }
  | { kind: 'phrase'; text: string }
  | { kind: 'and' | 'or'; items: SearchNode[] }
  | { kind: 'not'; left: SearchNode; right: SearchNode };

export type SearchParse = { ok: true; node: SearchNode; fts: string } | { ok: false; error: string };

/** At most this many words and phrases, and this much nesting: each one is FTS5 work. */
export const MAX_SEARCH_TERMS = 64;
export const MAX_SEARCH_DEPTH = 8;

type Token = { t: 'word'; text: string } | { t: 'phrase'; text: string } | { t: '(' | ')' | 'AND' | 'OR' | 'NOT' };

class QueryError extends Error {}

function tokenize(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')') {
      out.push({ t: c });
      i++;
    } else if (c === '"') {
      const end = q.indexOf('"', i + 1);
      if (end < 0) throw new QueryError(`unterminated phrase starting at ${i}`);
      out.push({ t: 'phrase', text: q.slice(i + 1, end) });
      i = end + 1;
    } else {
      let j = i;
      while (j < q.length && !/[\s"()]/.test(q[j]!)) j++;
      const text = q.slice(i, j);
      out.push(text === 'AND' || text === 'OR' || text === 'NOT' ? { t: text } : { t: 'word', text });
      i = j;
    }
  }
  return out;
}

class Parser {
  #pos = 0;
  #terms = 0;
  readonly #tokens: Token[];
  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }

  parse(): SearchNode {
    if (this.#tokens.length === 0) throw new QueryError('empty query');
    const node = this.#or(0);
    const rest = this.#tokens[this.#pos];
    if (rest) throw new QueryError(rest.t === ')' ? 'unbalanced ")"' : `unexpected ${describe(rest)}`);
    return node;
  }

  #peek(): Token | undefined {
    return this.#tokens[this.#pos];
  }

  #or(depth: number): SearchNode {
    const items = [this.#and(depth)];
    while (this.#peek()?.t === 'OR') {
      this.#pos++;
      items.push(this.#and(depth));
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  }

  #and(depth: number): SearchNode {
    const items = [this.#not(depth)];
    for (;;) {
      const t = this.#peek();
      if (t?.t === 'AND') {
        this.#pos++;
        items.push(this.#not(depth));
      } else if (t && (t.t === 'word' || t.t === 'phrase' || t.t === '(')) {
        items.push(this.#not(depth));
      } else break;
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  }

  #not(depth: number): SearchNode {
    let left = this.#atom(depth);
    while (this.#peek()?.t === 'NOT') {
      this.#pos++;
      left = { kind: 'not', left, right: this.#atom(depth) };
    }
    return left;
  }

  #atom(depth: number): SearchNode {
    const t = this.#tokens[this.#pos++];
    if (!t) throw new QueryError('the query ends where a word was expected');
    if (t.t === '(') {
      if (depth + 1 > MAX_SEARCH_DEPTH) throw new QueryError(`parentheses nested deeper than ${MAX_SEARCH_DEPTH}`);
      const inner = this.#or(depth + 1);
      if (this.#tokens[this.#pos++]?.t !== ')') throw new QueryError('missing ")"');
      return inner;
    }
    if (t.t === 'word' || t.t === 'phrase') {
      if (++this.#terms > MAX_SEARCH_TERMS) throw new QueryError(`more than ${MAX_SEARCH_TERMS} words`);
      if (t.t === 'phrase') {
        if (t.text.trim() === '') throw new QueryError('empty phrase ""');
        return { kind: 'phrase', text: t.text };
      }
      const prefix = t.text.endsWith('*');
      const text = prefix ? t.text.slice(0, -1) : t.text;
      if (text === '') throw new QueryError('a prefix needs at least one character before *');
      return { kind: 'word', text, prefix };
    }
    throw new QueryError(t.t === 'NOT' ? 'NOT needs a word before it (a NOT b)' : `unexpected ${describe(t)}`);
  }
}

function describe(t: Token): string {
  return t.t === 'word' || t.t === 'phrase' ? `"${t.text}"` : t.t;
}

/** An FTS5 string literal: the text in double quotes, inner quotes doubled. */
const quote = (text: string) => `"${text.replaceAll('"', '""')}"`;

/** The FTS5 expression of a parsed query: every word and phrase a quoted string. */
export function toFts(node: SearchNode): string {
  switch (node.kind) {
    case 'word': return node.prefix ? `${quote(node.text)}*` : quote(node.text);
    case 'phrase': return quote(node.text);
    case 'and': return node.items.map((n) => group(n, 'and')).join(' AND ');
    case 'or': return node.items.map((n) => group(n, 'or')).join(' OR ');
    case 'not': return `${group(node.left, 'not')} NOT ${group(node.right, 'not')}`;
  }
}

function group(n: SearchNode, parent: 'and' | 'or' | 'not'): string {
  const inner = toFts(n);
  // Explicit parentheses everywhere an operator nests: FTS5's precedence never decides.
  if (n.kind === 'word' || n.kind === 'phrase') return inner;
  return parent === n.kind && parent !== 'not' ? inner : `(${inner})`;
}

export function parseSearch(q: string): SearchParse {
  // SQLite reads strings as C strings: a NUL would end the expression early.
  if (q.includes('\u0000')) return { ok: false, error: 'the query contains a NUL character' };
  try {
    const node = new Parser(tokenize(q)).parse();
    return { ok: true, node, fts: toFts(node) };
  } catch (err) {
    if (err instanceof QueryError) return { ok: false, error: err.message };
    throw err;
  }
}
