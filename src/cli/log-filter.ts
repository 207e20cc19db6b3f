// What `tessera cluster` shows on the terminal from its children's JSON logs:
// lifecycle (info) lines, warnings and errors, one short line each. Debug and
// trace go to the log files only. Pure, so it is unit-tested.

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'name', 'node', 'msg', 'v']);
const MAX_VALUE = 120;

/**
 * The terminal form of one output line of child `name`, or null to show
 * nothing. JSON lines below `minLevel` (default info) are dropped; lines that
 * are not JSON (a stack trace, a crash message on stderr) are always shown.
 */
export function terminalLine(name: string, line: string, minLevel = 30): string | null {
  if (line.trim() === '') return null;
  let rec: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return `[${name}] ${line}`;
    rec = parsed as Record<string, unknown>;
  } catch {
    return `[${name}] ${line}`;
  }
  const level = typeof rec.level === 'number' ? rec.level : 30;
  if (level < minLevel) return null;
  const parts = [`[${name}]`];
  if (level >= 40) parts.push(LEVEL_NAMES[level] ?? `L${level}`);
  parts.push(typeof rec.msg === 'string' ? rec.msg : '(no message)');
  for (const [k, v] of Object.entries(rec)) {
    if (OMIT.has(k) || v === undefined) continue;
    parts.push(`${k}=${shorten(k === 'err' ? errText(v) : v)}`);
  }
  return parts.join(' ');
}

function errText(v: unknown): unknown {
  if (v && typeof v === 'object' && 'message' in v) return (v as { message: unknown }).message;
  return v;
}

function shorten(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s;
}
