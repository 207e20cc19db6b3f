import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.ts';
import { REV_PATTERN } from './names.ts';

const revRe = new RegExp(REV_PATTERN);

/** The part of a document that a revision hashes. */
export interface DocBody {
  data: Record<string, unknown>;
  tags?: string[];
  content?: string;
  deleted?: true;
}

/**
 * `rev = "<n>-<sha1 of canonical {data,tags,content,deleted}>"` (DESIGN §4).
 * `deleted` is hashed only when true; absent fields are left out.
 */
export function computeRev(generation: number, body: DocBody): string {
  const hashed: Record<string, unknown> = { data: body.data };
  if (body.tags !== undefined) hashed.tags = body.tags;
  if (body.content !== undefined) hashed.content = body.content;
  if (body.deleted === true) hashed.deleted = true;
  const digest = createHash('sha1').update(canonicalJson(hashed)).digest('hex');
  return `${generation}-${digest}`;
}

/** The generation `n` of a rev, or NaN when it is not of the form `<n>-<hex>`. */
export function revGeneration(rev: string): number {
  return revRe.test(rev) ? Number(rev.slice(0, rev.indexOf('-'))) : Number.NaN;
}
