import { bulkBody, dbParams, docParams, docWriteBody, rev, uintQuery } from '../../src/core/doc/schema.ts';
import { errors } from '../../src/core/errors.ts';
import { READ_MODES } from './reader.ts';

// JSON schemas for every client route: validation at the edge (a clear 400
// with the offending path) and the OpenAPI description. The document and
// its names are src/core/doc/schema.ts, shared with the nodes.

const skip = { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 } as const;
const limit = { type: 'integer', minimum: 1, maximum: 1000, default: 100 } as const;
const skipQ = uintQuery('Items to skip (default 0)');
const limitQ = uintQuery('Page size, 1..1000 (default 100)');
const boolQ = { type: 'string', enum: ['true', 'false', '1', '0'] } as const;

export { dbParams, docParams, bulkBody };
export const putDocBody = docWriteBody;
export const postDocBody = docWriteBody;

/** Routes without query parameters still refuse unknown ones. */
export const noQuery = { type: 'object', properties: {}, additionalProperties: false } as const;

export const readQuery = {
  type: 'object', additionalProperties: false,
  properties: {
    read: { type: 'string', enum: [...READ_MODES], default: 'primary', description: 'primary (default, linearizable) | any (committed, may be stale) | quorum (linearizable, newest of readQuorum copies; 400 unless readQuorum + writeQuorum > nodes)' },
    rev: { ...rev, description: 'An older revision, if still kept' },
  },
} as const;

export const deleteQuery = {
  type: 'object', additionalProperties: false, properties: { rev: { ...rev, description: 'Current revision (or If-Match)' } },
} as const;

export const allDocsQuery = {
  type: 'object', additionalProperties: false,
  properties: {
    limit: limitQ, skip: skipQ,
    startAfter: { type: 'string', maxLength: 200, description: 'Return ids after this one (the previous page\'s next)' },
    includeDeleted: boolQ,
  },
} as const;

export const findFieldsBody = {
  type: 'object', additionalProperties: false,
  properties: {
    equalsMap: { type: 'object', description: 'data fields that must equal these values (JSON types matter)' },
    numericField: { type: 'string', minLength: 1 },
    min: { type: 'number' },
    max: { type: 'number' },
    skip, limit,
  },
} as const;

const tagList = { type: 'array', items: { type: 'string' }, maxItems: 1000 } as const;

export const findTagsBody = {
  type: 'object', additionalProperties: false,
  properties: { allOf: tagList, anyOf: tagList, noneOf: tagList, skip, limit },
} as const;

export const searchQuery = {
  type: 'object', required: ['q'], additionalProperties: false,
  properties: { q: { type: 'string', minLength: 1, maxLength: 1000 }, skip: skipQ, limit: limitQ },
} as const;

export const changesQuery = {
  type: 'object', additionalProperties: false,
  properties: {
    since: { type: 'string', maxLength: 4096, description: 'Opaque cursor (the previous answer\'s last); absent or 0 = from the start' },
    limit: limitQ,
    feed: { type: 'string', enum: ['normal', 'longpoll'], default: 'normal' },
    timeout: uintQuery('Long-poll wait in ms, at most 60000 (default 30000)'),
  },
} as const;

export const shardParams = {
  type: 'object', required: ['id'], additionalProperties: false, properties: { id: uintQuery('Shard id') },
} as const;

/** A digit-string query value as a number in [min, max], `fallback` when absent; 400 with the path otherwise. */
export function queryInt(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw errors.badRequest(`querystring.${name}: must be an integer in ${min}..${max}`, { path: `querystring.${name}` });
  return n;
}

export const queryBool = (value: string | undefined): boolean => value === 'true' || value === '1';
