// The router's public surface (STYLE §10): the app, its composition root, and
// the pieces the failover wiring plugs into (views, runtimes, observations).
export { build, type RouterAppDeps } from './app.ts';
export { startRouter, runRouter, type RouterOptions, type RunningRouter } from './main.ts';
export { Shards, type ShardsDeps } from './replication/shards.ts';
export { ShardRuntime, type ShardNode, type ShardRuntimeDeps } from './replication/shard-runtime.ts';
export { ShardView, type NodeSeen } from './replication/shard-view.ts';
export { Failover, type FailoverDeps, type ElectionSummary } from './failover/wiring.ts';
export { writeToShard, noPrimary, quorumNotMet, type WriteRequest, type WriteResult } from './api/writer.ts';
export { readFromShard, READ_MODES, type ReadMode } from './api/reader.ts';
export { describeShard, readiness, nodeHealth, type Health, type ShardFacts, type NodeFacts } from './failover/cluster-status.ts';
export { quorumSeq, acksFor, advanceCommit } from '../src/rules/index.ts';
