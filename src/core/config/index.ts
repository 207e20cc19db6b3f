export { ConfigSchema, type Config, type ShardConfig, type NodeConfig, type ReplicationConfig } from './schema.ts';
export { loadConfig, parseConfig, redactConfig, formatPath, ConfigError } from './load.ts';
export { findNode, majority } from './topology.ts';
