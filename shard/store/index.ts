export { Store, READY_LAG_ENTRIES, type StoreOptions, type Meta, type WriteResult, type WriteGuard, type BulkDoc, type BulkItem } from './store.ts';
export { GroupCommit, type TransactionRunner } from './group-commit.ts';
export { SCHEMA_VERSION, migrate } from './schema.ts';
export { matchesFields, matchesTags, type FieldsQuery, type TagsQuery } from './query-match.ts';
