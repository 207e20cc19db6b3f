// Names a client may use (DESIGN §4). Checked at the edge, once.
// `.` and `..` are refused: standard clients normalise them away in a URL path.
export const DOC_ID_PATTERN = '^(?!\\.\\.?$)[A-Za-z0-9_.~-]{1,200}$';
export const DB_NAME_PATTERN = '^[a-z][a-z0-9_-]{0,63}$';

const docId = new RegExp(DOC_ID_PATTERN);
const dbName = new RegExp(DB_NAME_PATTERN);

export const isDocId = (id: unknown): id is string => typeof id === 'string' && docId.test(id);
export const isDbName = (name: unknown): name is string => typeof name === 'string' && dbName.test(name);

/**
 * A non-negative integer as a decimal string (query strings, headers): at
 * most 15 digits, so every accepted value is a safe integer and survives
 * Number() exactly. Handlers range-check what they accept.
 */
export const UINT_PATTERN = '^(0|[1-9][0-9]{0,14})$';
export const POSITIVE_UINT_PATTERN = '^[1-9][0-9]{0,14}$';

/** A revision `<n>-<sha1 hex>` (DESIGN §4); `n` has at most 15 digits, so it is a safe integer. */
export const REV_PATTERN = '^[1-9][0-9]{0,14}-[0-9a-f]{40}$';
const revRe = new RegExp(REV_PATTERN);
export const isRev = (rev: unknown): rev is string => typeof rev === 'string' && revRe.test(rev);
