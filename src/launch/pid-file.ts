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

/** Whether a process with this PID exists (a zombie counts until reaped). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Ends the process `pid`: SIGTERM (SIGCONT first, so a paused one can act
 * on it), then SIGKILL once `graceMs` passed. Resolves once it is gone
 * (or after the SIGKILL when it is not our child and lingers as a zombie).
 */
export async function terminatePid(pid: number, graceMs: number): Promise<'terminated' | 'killed' | 'gone'> {
  if (!pidAlive(pid)) return 'gone';
  try {
    process.kill(pid, 'SIGCONT');
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid) || isZombie(pid)) return 'terminated';
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'terminated';
  }
  return 'killed';
}

function isZombie(pid: number): boolean {
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}
