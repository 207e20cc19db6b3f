import { computeRev } from '../../../src/core/doc/rev.ts';
import type { DocInput, DocOperation, DocOutput, DocState } from '../../../src/check/index.ts';
import { planWrite, type Head } from '../../../src/rules/index.ts';

// Hand-written histories read best as one line per op:
// `op(input, output, call, return)`, times in ms, `Infinity` for unknown.

export const A = { data: { v: 'a' } };
export const B = { data: { v: 'b' } };
export const C = { data: { v: 'c' } };
export const TOMB = { data: {}, deleted: true as const };

export const rev = (n: number, body: object): string => computeRev(n, body as Parameters<typeof computeRev>[1]);
export const r1A = rev(1, A);
export const r2B = rev(2, B);
export const r2C = rev(2, C);
export const tomb2 = rev(2, TOMB);
/** A well-formed rev no write in these tests ever produces. */
export const NEVER = rev(7, { data: { never: true } });

export const create = (body: { data: Record<string, unknown> }): DocInput => ({ kind: 'put', body });
export const update = (from: string, body: { data: Record<string, unknown> }): DocInput => ({ kind: 'put', rev: from, body });
export const del = (from: string): DocInput => ({ kind: 'delete', rev: from });
export const read: DocInput = { kind: 'read' };

export const ok = (r: string, status?: number): DocOutput => (status === undefined ? { kind: 'ok', rev: r } : { kind: 'ok', rev: r, status });
export const conflict: DocOutput = { kind: 'conflict' };
export const notFound: DocOutput = { kind: 'not_found' };
export const unknown: DocOutput = { kind: 'unknown' };

export function op(input: DocInput, output: DocOutput, call: number, ret: number, key = 'doc-1', client?: string): DocOperation {
  return { key, input, output, call, return: output.kind === 'unknown' ? Infinity : ret, ...(client ? { client } : {}) };
}

/**
 * What the store does with a write on `state`, straight from planWrite and
 * the store's #apply rule: generators use it to run a real sequential history.
 */
export function storeWrite(state: DocState, input: Exclude<DocInput, { kind: 'read' }>): { answer: DocOutput; next: DocState } {
  const head: Head | null = state && { ...state, seq: 1 };
  const p = planWrite(head, input.kind === 'delete' ? { kind: 'delete', id: 'x', rev: input.rev } : { kind: 'put', id: 'x', body: input.body, ...(input.rev ? { rev: input.rev } : {}) });
  if (p.kind === 'write') {
    return { answer: ok(p.doc.rev, p.status), next: { rev: p.doc.rev, parentRev: state?.rev ?? null, deleted: p.doc.deleted === true, created: !state || state.deleted } };
  }
  if (p.kind === 'retry') return { answer: ok(state!.rev, p.status), next: state };
  return { answer: p.kind === 'conflict' ? conflict : notFound, next: state };
}
