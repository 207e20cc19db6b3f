import type { BareVerdict, Operation } from './linearizability.ts';

// Verdicts as text a reader can act on from a test failure message: the ops
// with their times, what the model made of them, and where it got stuck.

/** How a model renders its parts; built once per check from the model. */
export interface Describe<S, I, O> {
  op(op: Operation<I, O>): string;
  state(state: S): string;
  why(state: S, op: Operation<I, O>): string;
}

export function formatKeyVerdict<S, I, O>(v: BareVerdict<I, O>, d: Describe<S, I, O>): string {
  const head = `key ${JSON.stringify(v.key)}: ${v.status} (${plural(v.ops, 'op')}, ${plural(v.steps, 'step')}, ${v.elapsedMs.toFixed(1)} ms)`;
  if (v.status === 'ok') return head;
  if (v.status === 'unknown') return `${head}\n  ${v.reason}: the history may or may not be linearizable`;
  const { prefix, state, deadline, unplaceable } = v.violation;
  const lines = [head, `  longest linearizable prefix (${prefix.length} of ${v.ops} ops), each with the state it leaves:`];
  if (prefix.length === 0) lines.push('    (none: the first op cannot be placed)');
  // A pending op in the prefix is one the search let take effect at that point.
  prefix.forEach((p, i) => lines.push(`    ${String(i + 1).padStart(3)}. ${formatOp(p.op, d)}${p.op.return === Infinity ? ' (taken to apply here)' : ''}  ⇒ ${p.state}`));
  lines.push(`  in state ${state}, one of these must take effect before ${formatOp(deadline, d)} returns at ${formatTime(deadline.return)}, and none can:`);
  for (const u of unplaceable) lines.push(`    - ${formatOp(u.op, d)}: ${u.why}`);
  return lines.join('\n');
}

export function formatOp<S, I, O>(op: Operation<I, O>, d: Describe<S, I, O>): string {
  const who = op.client === undefined ? '' : `${op.client} `;
  return `[${formatTime(op.call)}, ${op.return === Infinity ? '∞)' : `${formatTime(op.return)}]`} ${who}${d.op(op)}`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function formatTime(ms: number): string {
  return ms === Infinity ? '∞' : ms.toFixed(1);
}
