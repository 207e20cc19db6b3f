export { documentRoutes, type DocumentRoutesDeps } from './documents.ts';
export { replicationRoutes, type ReplicationRoutesDeps } from './replication.ts';
export { healthRoutes } from './health.ts';
export { verifyRoutes, type VerifyRoutesDeps } from './verify.ts';
export { restoreRoutes, RESTORE_MAX_DOCS, type RestoreRoutesDeps } from './restore.ts';
