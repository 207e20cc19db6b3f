import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { MAX_SEQ, MAX_TERM } from '../../src/core/bounds.ts';
import { canonicalJson } from '../../src/core/doc/canonical.ts';
import { errors } from '../../src/core/errors.ts';
import { uintHeader } from '../../src/core/http/headers.ts';
import { COMMIT_HEADER, IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_PATTERN, KEEP_HEADER, TERM_HEADER } from '../../src/core/protocol.ts';
import type { Store, WriteGuard } from '../store/index.ts';

/**
 * Reads the router's write headers: the term stamp (guard), and the commit
 * and keep points it piggybacks, which the store takes note of.
 */
export function writeGuard(req: FastifyRequest, store: Store): { guard: WriteGuard; stamped: boolean } {
  const term = uintHeader(req.headers, TERM_HEADER, MAX_TERM);
  const commit = uintHeader(req.headers, COMMIT_HEADER, MAX_SEQ);
  const keep = uintHeader(req.headers, KEEP_HEADER, MAX_SEQ);
  if (commit !== undefined) store.noteCommitSeq(commit);
  if (keep !== undefined) store.noteKeep(keep);
  const key = idempotencyKey(req);
  const guard: WriteGuard = {
    ...(term !== undefined ? { term } : {}),
    ...(key !== undefined ? { idempotency: { key, fingerprint: fingerprint(req) } } : {}),
  };
  return { guard, stamped: term !== undefined };
}

function idempotencyKey(req: FastifyRequest): string | undefined {
  const raw = req.headers[IDEMPOTENCY_HEADER];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(raw)) {
    throw errors.badRequest('headers.idempotency-key: 1 to 200 printable ASCII characters, no spaces', { path: 'headers.idempotency-key' });
  }
  return raw;
}

/** What one key names: the method, the path with its query, If-Match and the body (canonical JSON). */
function fingerprint(req: FastifyRequest): string {
  const ifMatch = typeof req.headers['if-match'] === 'string' ? req.headers['if-match'] : '';
  return createHash('sha256').update(`${req.method} ${req.url}\n${ifMatch}\n${canonicalJson(req.body ?? null)}`).digest('hex');
}

/**
 * A read's headers: a term stamp makes it linearizable (only the primary of
 * that term answers it), and the reader's commit point moves the read point
 * up (router/DESIGN.md "Reads"). Returns the read point. It counts for this
 * read only and is never noted: what a node reports as its commit point goes
 * back into routers' views, where it lets writes be acknowledged, so only
 * the router's write and state requests may move it.
 */
export function readPoint(req: FastifyRequest, store: Store): number {
  const term = uintHeader(req.headers, TERM_HEADER, MAX_TERM);
  const commit = uintHeader(req.headers, COMMIT_HEADER, MAX_SEQ);
  if (term !== undefined) store.assertPrimaryAt(term);
  return store.readPoint(commit);
}

/**
 * A state poll carries the router's commit point too, so an idle primary
 * learns it (its committed reads then show its last writes) within a health
 * interval. The store counts it only while the node is primary: a replica's
 * log past its match point may still hold entries to roll back.
 */
export function checkCommitHeader(req: FastifyRequest, store: Store): void {
  const commit = uintHeader(req.headers, COMMIT_HEADER, MAX_SEQ);
  if (commit !== undefined) store.noteCommitSeq(commit);
}
