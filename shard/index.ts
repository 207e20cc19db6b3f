// The shard node's public surface: the app (tests, embedding), the
// composition root (the CLI), and the store and rules behind them.
export { build, type ShardAppDeps } from './app.ts';
export { startShard, runShard, type ShardOptions, type RunningShard } from './main.ts';
export { Store, GroupCommit, type StoreOptions } from './store/index.ts';
export * as rules from '../src/rules/index.ts';
