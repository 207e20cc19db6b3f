import type { FastifyRequest } from 'fastify';
import { errors } from '../../src/core/errors.ts';
import { TERM_HEADER } from '../../src/core/protocol.ts';
import type { Store, WriteGuard } from '../store/index.ts';

export const COMMIT_HEADER = 'x-tessera-commit';
export const KEEP_HEADER = 'x-tessera-keep';

function intHeader(req: FastifyRequest, name: string): number | undefined {
  const raw = req.headers[name];
  if (raw === undefined) return undefined;
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(v)) throw errors.badRequest(`headers.${name}: must be a non-negative integer`, { path: `headers.${name}` });
  return Number(v);
}

/**
 * Reads the router's write headers: the term stamp (guard), and the commit
 * and keep points it piggybacks, which the store takes note of.
 */
export function writeGuard(req: FastifyRequest, store: Store): { guard: WriteGuard; stamped: boolean } {
  const term = intHeader(req, TERM_HEADER);
  const commit = intHeader(req, COMMIT_HEADER);
  const keep = intHeader(req, KEEP_HEADER);
  if (commit !== undefined) {
    store.checkCommitFloor(commit);
    store.noteCommitSeq(commit);
  }
  if (keep !== undefined) store.noteKeep(keep);
  return { guard: term === undefined ? {} : { term }, stamped: term !== undefined };
}

/**
 * A state poll carries the router's commit point too. Only the lost-log
 * check uses it there: it must not raise a node's commitSeq, because a
 * replica's log past its match point may still hold entries to roll back.
 */
export function checkCommitHeader(req: FastifyRequest, store: Store): void {
  const commit = intHeader(req, COMMIT_HEADER);
  if (commit !== undefined) store.checkCommitFloor(commit);
}
