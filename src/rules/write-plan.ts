import { computeRev, revGeneration, type DocBody } from '../core/doc/rev.ts';
import type { Doc } from '../core/protocol.ts';

// Revision rules for one document write (DESIGN §4), as a pure decision over
// the current head. The store carries the plan out; tests run it as a table.

/** The current head of a document, as the store keeps it. */
export interface Head {
  rev: string;
  deleted: boolean;
  /** Rev this head was written over (null for a first write). */
  parentRev: string | null;
  /** The write that made this head created the doc (first write or re-create). */
  created: boolean;
  /** Seq of the log entry that wrote this head. */
  seq: number;
}

export type WriteRequest =
  | { kind: 'put'; id: string; rev?: string; body: DocBody }
  | { kind: 'delete'; id: string; rev: string };

export type WritePlan =
  /** Write `doc` (a tombstone for a delete); answer `status`. */
  | { kind: 'write'; doc: Doc; status: 200 | 201 }
  /** The same write already took effect: answer as then, write nothing. */
  | { kind: 'retry'; status: 200 | 201; seq: number }
  | { kind: 'conflict'; reason: string }
  | { kind: 'not_found'; reason: string };

export function makeDoc(id: string, rev: string, body: DocBody): Doc {
  const doc: Doc = { id, rev, data: body.data };
  if (body.deleted) doc.deleted = true;
  if (body.tags !== undefined) doc.tags = body.tags;
  if (body.content !== undefined) doc.content = body.content;
  return doc;
}

const TOMBSTONE: DocBody = { data: {}, deleted: true };

export function planWrite(head: Head | null, req: WriteRequest): WritePlan {
  if (req.kind === 'delete') return planDelete(head, req.id, req.rev);
  const { id, rev, body } = req;
  if (rev === undefined) {
    if (head === null) return { kind: 'write', doc: makeDoc(id, computeRev(1, body), body), status: 201 };
    // A deleted document is re-created without a rev; its n continues.
    if (head.deleted) return { kind: 'write', doc: makeDoc(id, computeRev(revGeneration(head.rev) + 1, body), body), status: 201 };
    if (head.created && computeRev(revGeneration(head.rev), body) === head.rev) return { kind: 'retry', status: 201, seq: head.seq };
    return { kind: 'conflict', reason: `document ${id} exists: an update needs its current rev` };
  }
  if (head === null) return { kind: 'conflict', reason: `document ${id} does not exist at rev ${rev}` };
  if (head.rev === rev) {
    const status = head.deleted ? 201 : 200;
    return { kind: 'write', doc: makeDoc(id, computeRev(revGeneration(rev) + 1, body), body), status };
  }
  if (!head.deleted && head.parentRev === rev && computeRev(revGeneration(head.rev), body) === head.rev) {
    return { kind: 'retry', status: head.created ? 201 : 200, seq: head.seq };
  }
  return { kind: 'conflict', reason: `rev ${rev} is not the current rev of ${id}` };
}

function planDelete(head: Head | null, id: string, rev: string): WritePlan {
  if (head === null) return { kind: 'not_found', reason: `document ${id} not found` };
  if (head.rev === rev) {
    if (head.deleted) return { kind: 'not_found', reason: `document ${id} is deleted` };
    return { kind: 'write', doc: makeDoc(id, computeRev(revGeneration(rev) + 1, TOMBSTONE), TOMBSTONE), status: 200 };
  }
  if (head.deleted && head.parentRev === rev) return { kind: 'retry', status: 200, seq: head.seq };
  return { kind: 'conflict', reason: `rev ${rev} is not the current rev of ${id}` };
}
