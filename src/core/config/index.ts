export { ConfigSchema, ROLES, type Config, type ShardConfig, type NodeConfig, type ReplicationConfig, type UserConfig, type Role } from './schema.ts';
export { loadConfig, parseConfig, redactConfig, formatPath, ConfigError } from './load.ts';
export { findNode, tlsFor, type TlsPaths } from './topology.ts';
