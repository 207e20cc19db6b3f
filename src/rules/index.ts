// Every pure decision of the replication protocol, both sides (router and
// node), one file each (src/rules/DESIGN.md says what each protects). Rules
// import only src/core; the services carry their decisions out.
export { compareLogs, logAtLeast, type LogPosition } from './log-order.ts';
export { findMatchSeq } from './log-match.ts';
export { majority, quorumSeq, acksFor, advanceCommit, tallyVotes, type Tally } from './quorum.ts';
export { decideVote, type VoterState, type VoteDecision } from './vote.ts';
export { decidePromote, type PromoteDecision } from './promote.ts';
export { decideReplicate, type ReplicaState, type Adoption, type ReplicatePlan, type TailEntry } from './replicate.ts';
export { planWrite, makeDoc, type Head, type WriteRequest, type WritePlan } from './write-plan.ts';
export { planRestore, type RestorePlan } from './restore-plan.ts';
export { planTrim, type TrimInput } from './trim.ts';
export { planElection, type ElectionInput, type ElectionPlan } from './election.ts';
export { planSwitchover, type SwitchoverPlan } from './switchover.ts';
export { shouldElect, electionGapMs } from './should-elect.ts';
export {
  nextAction, batchSource, shouldTruncate, firstProbeWindow, widenProbeWindow, probeOutcome, nextBackoffMs, MAX_WAL_PAGE,
  type StreamMode, type StreamStatus, type StreamAction, type BatchSource, type ProbeWindow, type ProbeOutcome,
} from './replica-progress.ts';
export {
  classifyHealth, lagEntries, lagMs, lagThresholdEntries, updateWriteRate, MIN_LAG_ENTRIES, type Health, type HealthInput, type WriteRate,
} from './health.ts';
export { adoptState, adoptHint, type TermAndPrimary } from './view.ts';
export { planJoin, type JoinInput, type JoinPlan } from './join.ts';
