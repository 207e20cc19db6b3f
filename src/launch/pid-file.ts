import { readFileSync } from 'node:fs';

/**
 * The PID in a tessera.pid file if that process is alive and its command
 * line contains every string of `mustContain` (as whole arguments), else
 * null. A pid file left by a killed node may name a PID the OS has since
 * given to an unrelated process: never signal a PID without this check.
 * Linux only (/proc).
 */
export function livePidFromFile(file: string, mustContain: string[]): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
  return mustContain.every((s) => args.some((a) => a === s || a.endsWith(`/${s}`))) ? pid : null;
}
