import type { DocBody } from './rev.ts';

/** The hashed part of a document as a write names it: `data`, and `tags`/`content` only when present. */
export function docBody(input: { data?: Record<string, unknown>; tags?: string[]; content?: string }): DocBody {
  const body: DocBody = { data: input.data ?? {} };
  if (input.tags !== undefined) body.tags = input.tags;
  if (input.content !== undefined) body.content = input.content;
  return body;
}
