export { ConfigSchema, type Config, type ShardConfig, type NodeConfig, type ReplicationConfig } from './schema.ts';
export { loadConfig, parseConfig, redactConfig, formatPath, ConfigError } from './load.ts';
export { findNode } from './topology.ts';
