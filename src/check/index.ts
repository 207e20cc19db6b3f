// The linearizability checker's public surface (STYLE §10), for cluster tests
// and `tessera chaos`: record with HistoryRecorder, check with checkDocHistory.
export {
  checkHistory, checkKey, DEFAULT_MAX_MS, DEFAULT_MAX_STEPS,
  type CheckOptions, type CheckResult, type KeyVerdict, type Model, type Operation, type PlacedOp, type Violation,
} from './linearizability.ts';
export {
  checkDocHistory, docModel, shortRev,
  type DocHead, type DocInput, type DocOperation, type DocOutput, type DocState,
} from './doc-model.ts';
export { classifyReadAnswer, classifyWriteAnswer, HistoryRecorder, type Discard, type NoAnswer, type OpHandle } from './history.ts';
