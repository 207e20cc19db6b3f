import { DB_NAME_PATTERN, DOC_ID_PATTERN, REV_PATTERN, UINT_PATTERN } from './names.ts';

// JSON schemas of a document and its names (DESIGN §4), shared by the
// router's client API and the node's copy of it, so both sides validate the
// same way and the OpenAPI document describes what every route checks.
// Every object is closed (`additionalProperties: false`): an unknown field
// or query parameter is a 400 naming it, never silently dropped.

export const dbName = { type: 'string', pattern: DB_NAME_PATTERN, description: 'Database name' } as const;
export const docId = { type: 'string', pattern: DOC_ID_PATTERN, description: 'Document id (not "." or "..")' } as const;
export const rev = { type: 'string', pattern: REV_PATTERN, description: 'Revision "<n>-<sha1 hex>"' } as const;

/**
 * Query strings are strings: nothing is coerced (a wrong type in a body is
 * the client's error), so numbers in queries are digit patterns that the
 * handlers convert and range-check.
 */
export const uintQuery = (description: string) => ({ type: 'string', pattern: UINT_PATTERN, description }) as const;

export const dbParams = {
  type: 'object', required: ['db'], properties: { db: dbName }, additionalProperties: false,
} as const;

export const docParams = {
  type: 'object', required: ['db', 'id'], properties: { db: dbName, id: docId }, additionalProperties: false,
} as const;

export const docFields = {
  rev,
  data: { type: 'object', description: 'The document\'s JSON data (nesting and numbers limited: README "Limits")' },
  tags: { type: 'array', items: { type: 'string', maxLength: 1000 }, maxItems: 10_000 },
  content: { type: 'string', description: 'Text indexed for _search' },
} as const;

/** PUT and POST of one document: the id comes from the path or, for POST, the body. */
export const docWriteBody = {
  type: 'object', required: ['data'], properties: { id: docId, ...docFields }, additionalProperties: false,
} as const;

export const BULK_MAX_DOCS = 10_000;

/** One document of `_bulk_docs`: checked one by one, so a bad one fails alone (src/core/doc/check.ts). */
export const bulkDoc = {
  type: 'object',
  properties: { id: docId, ...docFields, deleted: { type: 'boolean' } },
  additionalProperties: false,
} as const;

export const bulkBody = {
  type: 'object', required: ['docs'],
  properties: {
    docs: {
      type: 'array', maxItems: BULK_MAX_DOCS,
      description: `Up to ${BULK_MAX_DOCS} documents, each like ${JSON.stringify(Object.keys(bulkDoc.properties))}; a doc that breaks a rule gets its own {id, error, reason}`,
      items: { type: 'object' },
    },
  },
  additionalProperties: false,
} as const;
