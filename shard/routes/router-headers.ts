import type { FastifyRequest } from 'fastify';
import { MAX_SEQ, MAX_TERM } from '../../src/core/bounds.ts';
import { uintHeader } from '../../src/core/http/headers.ts';
import { COMMIT_HEADER, KEEP_HEADER, TERM_HEADER } from '../../src/core/protocol.ts';
import type { Store, WriteGuard } from '../store/index.ts';

/**
 * Reads the router's write headers: the term stamp (guard), and the commit
 * and keep points it piggybacks, which the store takes note of.
 */
export function writeGuard(req: FastifyRequest, store: Store): { guard: WriteGuard; stamped: boolean } {
  const term = uintHeader(req.headers, TERM_HEADER, MAX_TERM);
  const commit = uintHeader(req.headers, COMMIT_HEADER, MAX_SEQ);
  const keep = uintHeader(req.headers, KEEP_HEADER, MAX_SEQ);
  if (commit !== undefined) {
    store.checkCommitFloor(commit);
    store.noteCommitSeq(commit);
  }
  if (keep !== undefined) store.noteKeep(keep);
  return { guard: term === undefined ? {} : { term }, stamped: term !== undefined };
}

/**
 * A read's headers: a term stamp makes it linearizable (only the primary of
 * that term answers it), and the reader's commit point moves the read point
 * up on a primary (router/DESIGN.md "Reads"). Returns the read point.
 */
export function readPoint(req: FastifyRequest, store: Store): number {
  const term = uintHeader(req.headers, TERM_HEADER, MAX_TERM);
  const commit = uintHeader(req.headers, COMMIT_HEADER, MAX_SEQ);
  if (term !== undefined) store.assertPrimaryAt(term);
  if (commit !== undefined) store.noteCommitSeq(commit);
  return store.readPoint(commit);
}

/**
 * A state poll carries the router's commit point too. Only the lost-log
 * check uses it there: it must not raise a node's commitSeq, because a
 * replica's log past its match point may still hold entries to roll back.
 */
export function checkCommitHeader(req: FastifyRequest, store: Store): void {
  const commit = uintHeader(req.headers, COMMIT_HEADER, MAX_SEQ);
  if (commit !== undefined) store.checkCommitFloor(commit);
}
