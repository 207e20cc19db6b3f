// Hard limits that keep the store exact (DESIGN §4 "Input is strict"). Both
// services check every JSON value a client sends with these, iteratively
// (an explicit stack, never recursion), before anything recursive — the
// canonical JSON of a rev, JSON.stringify, schema validation — sees it.
//
// Numbers are IEEE-754 doubles, as in JavaScript and most JSON stores. A
// number is refused when no double carries it: it overflows (`1e400`, which
// JSON.parse turns into Infinity), or it is an integer beyond ±(2^53 − 1)
// (`2^53 + 1`, `2^64`: the nearest double is another integer). Fractions are
// kept as the nearest double (`0.1`), the shortest text that reads back the
// same is what is stored (`1.50` → `1.5`).

/** Levels of nesting a document's `data` may have (`data` itself is level 1), as document databases allow. */
export const MAX_DOC_DEPTH = 64;
/** Levels a whole request body may have: a document and its envelope (`{docs:[{data:…}]}`, replicate entries). */
export const MAX_BODY_DEPTH = MAX_DOC_DEPTH + 16;

/**
 * The first problem of a parsed JSON value, `path: why`, or null. `maxDepth`
 * counts containers: `{}` is depth 1, `{"a":[]}` depth 2.
 */
export function jsonProblem(value: unknown, maxDepth: number, path = 'body'): string | null {
  const stack: Array<{ v: unknown; depth: number; path: string }> = [{ v: value, depth: 1, path }];
  while (stack.length > 0) {
    const { v, depth, path: at } = stack.pop()!;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `${at}: a number too large for a double (JSON numbers are IEEE-754 doubles)`;
      if (Number.isInteger(v) && !Number.isSafeInteger(v)) return `${at}: integer beyond ±(2^53-1) cannot be stored exactly`;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth > maxDepth) return `${at}: nested deeper than ${maxDepth} levels`;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], depth: depth + 1, path: `${at}[${i}]` });
      continue;
    }
    for (const key of Object.keys(v)) {
      if (key === '__proto__') return `${at}: the key __proto__ is not allowed`;
      stack.push({ v: (v as Record<string, unknown>)[key], depth: depth + 1, path: `${at}.${key}` });
    }
  }
  return null;
}

/**
 * The nesting depth of JSON text, read without parsing (brackets outside
 * strings), so a body nested a million levels deep costs one pass and no
 * stack. Stops counting once `limit` is exceeded.
 */
export function textDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}
