export { planWrite, makeDoc, type Head, type WriteRequest, type WritePlan } from './plan-write.ts';
export { decideVote, logAtLeast, type VoterState, type VoteDecision } from './decide-vote.ts';
export { decideReplicate, type ReplicaState, type Adoption, type ReplicatePlan } from './decide-replicate.ts';
export { planTrim } from './plan-trim.ts';
