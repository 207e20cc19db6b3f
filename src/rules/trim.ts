// WAL trimming (DESIGN §5.5): keep at least `retention` newest entries and
// never drop an entry someone may still need — anything above commitSeq (it
// could still be rolled back or be needed for repair) or above `keep`, the
// lowest seq an in-sync replica has matched.

export interface TrimInput {
  baseSeq: number;
  lastSeq: number;
  commitSeq: number;
  /** From the router's x-tessera-keep; null = commitSeq. */
  keep: number | null;
  retention: number;
  /** Trim only when at least this many entries can go (amortises deletes). */
  minChunk: number;
}

/** New baseSeq (entries <= it are deleted), or null when nothing should go. */
export function planTrim(t: TrimInput): number | null {
  const upTo = Math.min(t.lastSeq - t.retention, t.commitSeq, t.keep ?? t.commitSeq);
  if (upTo - t.baseSeq < Math.max(1, t.minChunk)) return null;
  return upTo;
}
