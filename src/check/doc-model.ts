import { revGeneration, type DocBody } from '../core/doc/rev.ts';
import { planWrite, type Head, type WritePlan, type WriteRequest } from '../rules/index.ts';
import { checkHistory, type CheckOptions, type CheckResult, type Model, type Operation } from './linearizability.ts';

// One Tessera document as a register (DESIGN §4). Every write step asks the
// store's own planWrite what the write does on that state, so the checker can
// never drift from the revision rules: idempotent retries, re-create after
// delete continuing n, conflicts and not-founds all come from there.

/** The head as the store keeps it (plan-write.ts `Head`), without the shard-wide seq. */
export interface DocHead {
  readonly rev: string;
  readonly parentRev: string | null;
  readonly deleted: boolean;
  readonly created: boolean;
}

/** null: the document has never been written. */
export type DocState = DocHead | null;

export type DocInput =
  /** Without `rev`: a create (or re-create after delete); with it: an update of that rev. */
  | { readonly kind: 'put'; readonly body: Omit<DocBody, 'deleted'>; readonly rev?: string }
  | { readonly kind: 'delete'; readonly rev: string }
  /** A linearizable read of the latest revision (`read=primary` or `read=quorum`). */
  | { readonly kind: 'read' };

export type DocOutput =
  /** A write that answered 2xx, or a read that found the doc; `status` is checked when given. */
  | { readonly kind: 'ok'; readonly rev: string; readonly status?: number }
  | { readonly kind: 'conflict' }
  | { readonly kind: 'not_found' }
  /** The write may or may not have taken effect (503 indeterminate, timeout, broken connection). */
  | { readonly kind: 'unknown' };

export type DocOperation = Operation<DocInput, DocOutput>;

// planWrite needs an id for the doc it builds and a seq to echo on a retry;
// neither is part of the rev nor of what the model compares.
const ID = 'doc';
const NO_SEQ = 0;

function plan(state: DocState, input: Exclude<DocInput, { kind: 'read' }>): WritePlan {
  const head: Head | null = state && { ...state, seq: NO_SEQ };
  const req: WriteRequest = input.kind === 'delete'
    ? { kind: 'delete', id: ID, rev: input.rev }
    : { kind: 'put', id: ID, body: input.body, ...(input.rev !== undefined ? { rev: input.rev } : {}) };
  return planWrite(head, req);
}

/** What the write does on `state`: its answer if it takes effect there, and the state it leaves. */
function effect(state: DocState, input: Exclude<DocInput, { kind: 'read' }>): { answer: DocOutput; next: DocState } {
  const p = plan(state, input);
  switch (p.kind) {
    case 'write':
      // The store's #apply: the new head's parent is the old head, and it
      // counts as a create when there was none or it was a tombstone.
      return {
        answer: { kind: 'ok', rev: p.doc.rev, status: p.status },
        next: { rev: p.doc.rev, parentRev: state?.rev ?? null, deleted: p.doc.deleted === true, created: state === null || state.deleted },
      };
    case 'retry':
      // A re-sent write that already took effect answers with the head it made.
      return { answer: { kind: 'ok', rev: state!.rev, status: p.status }, next: state };
    case 'conflict':
      return { answer: { kind: 'conflict' }, next: state };
    case 'not_found':
      return { answer: { kind: 'not_found' }, next: state };
  }
}

function readAnswer(state: DocState): DocOutput {
  return state === null || state.deleted ? { kind: 'not_found' } : { kind: 'ok', rev: state.rev };
}

function matches(expected: DocOutput, observed: DocOutput): boolean {
  if (expected.kind !== observed.kind) return false;
  if (expected.kind !== 'ok' || observed.kind !== 'ok') return true;
  return expected.rev === observed.rev && (observed.status === undefined || observed.status === expected.status);
}

export const docModel: Model<DocState, DocInput, DocOutput> = {
  init: () => null,

  step(state, input, output) {
    if (input.kind === 'read') {
      // A read changes nothing; one whose answer is unknown constrains nothing.
      return output.kind === 'unknown' || matches(readAnswer(state), output) ? [state] : [];
    }
    const { answer, next } = effect(state, input);
    // Unknown: it took effect here, or it did not (the checker may also place it later, or never).
    if (output.kind === 'unknown') return next === state ? [state] : [state, next];
    // A definite failure is an observation too: a 409 means the state did not admit the write.
    return matches(answer, output) ? [next] : [];
  },

  key: (s) => (s === null ? '∅' : `${s.rev} ${s.parentRev ?? '-'} ${s.deleted ? 'd' : 'l'}${s.created ? 'c' : 'u'}`),

  describeState: (s) => (s === null ? 'absent' : `${shortRev(s.rev)}${s.deleted ? ' (deleted)' : ''} over ${s.parentRev === null ? 'nothing' : shortRev(s.parentRev)}${s.created ? ', created' : ''}`),

  describeOp: (input, output) => `${describeInput(input)} → ${describeOutput(output)}`,

  explain(state, input, output) {
    const expected = input.kind === 'read' ? readAnswer(state) : effect(state, input).answer;
    const here = state === null ? 'the document is absent' : `the document is at ${shortRev(state.rev)}${state.deleted ? ' (deleted)' : ''}`;
    return `${here}, so it would answer ${describeOutput(expected)}${output.kind === 'unknown' ? ' (changing nothing)' : `, not ${describeOutput(output)}`}`;
  },
};

/** Checks a Tessera history: every document on its own against the document model. */
export function checkDocHistory(history: readonly DocOperation[], options?: CheckOptions): CheckResult<DocInput, DocOutput> {
  return checkHistory(docModel, history, options);
}

/** `n-` and 8 hex digits: enough to tell revs apart in a report. */
export function shortRev(rev: string): string {
  return Number.isNaN(revGeneration(rev)) ? JSON.stringify(rev) : rev.slice(0, rev.indexOf('-') + 9);
}

function describeInput(input: DocInput): string {
  switch (input.kind) {
    case 'read':
      return 'read';
    case 'delete':
      return `delete rev=${shortRev(input.rev)}`;
    case 'put': {
      const body = JSON.stringify(input.body);
      return `put ${body.length > 60 ? `${body.slice(0, 57)}...` : body}${input.rev === undefined ? ' (no rev)' : ` rev=${shortRev(input.rev)}`}`;
    }
  }
}

function describeOutput(output: DocOutput): string {
  if (output.kind !== 'ok') return output.kind;
  return `ok ${shortRev(output.rev)}${output.status === undefined ? '' : ` (${output.status})`}`;
}
