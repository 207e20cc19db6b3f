export { planWrite, makeDoc, type Head, type WriteRequest, type WritePlan } from './write-plan.ts';
export { decideVote, logAtLeast, type VoterState, type VoteDecision } from './vote.ts';
export { decideReplicate, type ReplicaState, type Adoption, type ReplicatePlan } from './replicate.ts';
export { planTrim } from './trim.ts';
