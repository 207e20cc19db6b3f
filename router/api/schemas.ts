import { DB_NAME_PATTERN, DOC_ID_PATTERN } from '../../src/core/doc/names.ts';
import { errors } from '../../src/core/errors.ts';
import { READ_MODES } from './reader.ts';

// JSON schemas for every client route: validation at the edge (a clear 400
// with the offending path) and, later, the OpenAPI description.

const dbName = { type: 'string', pattern: DB_NAME_PATTERN, description: 'Database name' } as const;
const docId = { type: 'string', pattern: DOC_ID_PATTERN, description: 'Document id' } as const;
const rev = { type: 'string', minLength: 1, maxLength: 100, description: 'Revision "<n>-<sha1>"' } as const;
const skip = { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 } as const;
const limit = { type: 'integer', minimum: 1, maximum: 1000, default: 100 } as const;
// Query strings are strings: no type coercion anywhere (a wrong type in a
// body is the client's error), so numbers in queries are digit patterns that
// the handlers convert (queryInt) and range-check.
const intQ = (description: string) => ({ type: 'string', pattern: '^(0|[1-9][0-9]{0,8})$', description }) as const;
const skipQ = intQ('Items to skip (default 0)');
const limitQ = intQ('Page size, 1..1000 (default 100)');
const boolQ = { type: 'string', enum: ['true', 'false', '1', '0'] } as const;

export const dbParams = {
  type: 'object', required: ['db'], properties: { db: dbName }, additionalProperties: false,
} as const;

export const docParams = {
  type: 'object', required: ['db', 'id'], properties: { db: dbName, id: docId }, additionalProperties: false,
} as const;

const docFields = {
  rev,
  data: { type: 'object', description: 'The document\'s JSON data' },
  tags: { type: 'array', items: { type: 'string', maxLength: 1000 }, maxItems: 10_000 },
  content: { type: 'string', description: 'Text indexed for _search' },
} as const;

export const putDocBody = {
  type: 'object', required: ['data'], properties: { id: docId, ...docFields },
} as const;

export const postDocBody = putDocBody;

export const bulkBody = {
  type: 'object', required: ['docs'],
  properties: {
    docs: {
      type: 'array', maxItems: 10_000,
      items: {
        type: 'object',
        properties: { id: docId, ...docFields, deleted: { type: 'boolean' } },
      },
    },
  },
} as const;

export const readQuery = {
  type: 'object',
  properties: {
    read: { type: 'string', enum: [...READ_MODES], default: 'primary', description: 'primary (default) | any (may be stale) | quorum (newest of readQuorum copies)' },
    rev: { ...rev, description: 'An older revision, if still kept' },
  },
} as const;

export const deleteQuery = {
  type: 'object', properties: { rev: { ...rev, description: 'Current revision (or If-Match)' } },
} as const;

export const allDocsQuery = {
  type: 'object',
  properties: {
    limit: limitQ, skip: skipQ,
    startAfter: { type: 'string', maxLength: 200, description: 'Return ids after this one (the previous page\'s next)' },
    includeDeleted: boolQ,
  },
} as const;

export const findFieldsBody = {
  type: 'object',
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
  type: 'object',
  properties: { allOf: tagList, anyOf: tagList, noneOf: tagList, skip, limit },
} as const;

export const searchQuery = {
  type: 'object', required: ['q'],
  properties: { q: { type: 'string', minLength: 1, maxLength: 1000 }, skip: skipQ, limit: limitQ },
} as const;

export const changesQuery = {
  type: 'object',
  properties: {
    since: { type: 'string', maxLength: 4096, description: 'Opaque cursor (the previous answer\'s last); absent or 0 = from the start' },
    limit: limitQ,
    feed: { type: 'string', enum: ['normal', 'longpoll'], default: 'normal' },
    timeout: intQ('Long-poll wait in ms, at most 60000 (default 30000)'),
  },
} as const;

export const shardParams = {
  type: 'object', required: ['id'], properties: { id: intQ('Shard id') },
} as const;

/** A digit-string query value as a number in [min, max], `fallback` when absent; 400 with the path otherwise. */
export function queryInt(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw errors.badRequest(`querystring.${name}: must be an integer in ${min}..${max}`, { path: `querystring.${name}` });
  return n;
}

export const queryBool = (value: string | undefined): boolean => value === 'true' || value === '1';
