import { errors } from '../../src/core/errors.ts';

// The `_changes` cursor (DESIGN §4: opaque): one seq per shard, as base64url
// JSON, so a client resumes every shard where it stopped. "0" or no cursor
// means from the beginning.

export function encodeCursor(seqs: ReadonlyArray<number>): string {
  return Buffer.from(JSON.stringify(seqs)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined, shardCount: number): number[] {
  if (cursor === undefined || cursor === '' || cursor === '0') return new Array<number>(shardCount).fill(0);
  let seqs: unknown;
  try {
    seqs = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw errors.badRequest('querystring.since: not a cursor from this cluster', { path: 'querystring.since' });
  }
  if (!Array.isArray(seqs) || seqs.length !== shardCount || !seqs.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw errors.badRequest('querystring.since: not a cursor from this cluster', { path: 'querystring.since' });
  }
  return seqs as number[];
}
