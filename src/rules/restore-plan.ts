import { computeRev, revGeneration } from '../core/doc/rev.ts';
import type { Doc } from '../core/protocol.ts';
import type { Head } from './write-plan.ts';

// Restoring one document from a backup (README "Backup and restore"): the
// document is written as it was, rev included, so a restored cluster holds
// the same revisions as the one backed up. A pure decision over the head.

export type RestorePlan =
  /** Append a put entry with the document as given. */
  | { kind: 'write' }
  /** The head is this very revision (a repeated restore batch): nothing to write. */
  | { kind: 'same' }
  /** Another revision is here: the target was not empty. */
  | { kind: 'conflict'; reason: string }
  /** The rev does not hash the content (a tampered or corrupt backup line). */
  | { kind: 'bad'; reason: string };

export function planRestore(head: Head | null, doc: Doc): RestorePlan {
  const n = revGeneration(doc.rev);
  if (!Number.isFinite(n)) return { kind: 'bad', reason: `document ${doc.id}: rev ${doc.rev} is not <n>-<sha1>` };
  const body = { data: doc.data, ...(doc.tags !== undefined ? { tags: doc.tags } : {}), ...(doc.content !== undefined ? { content: doc.content } : {}), ...(doc.deleted ? { deleted: true as const } : {}) };
  if (computeRev(n, body) !== doc.rev) return { kind: 'bad', reason: `document ${doc.id}: rev ${doc.rev} does not match its content` };
  if (head === null) return { kind: 'write' };
  if (head.rev === doc.rev) return { kind: 'same' };
  return { kind: 'conflict', reason: `document ${doc.id} is here at rev ${head.rev}, the backup has ${doc.rev}: restore needs an empty target` };
}
