import { livePidFromFile } from '../../src/launch/pid-file.ts';

/**
 * SIGKILLs the process named in a tessera.pid file, but only if it is alive
 * and its arguments include every string of `mustContain` (e.g. the node id
 * and the test's config path; see livePidFromFile). For nodes started
 * outside the harness: a detached restart by scripts/failover-test.ts, or
 * children of a killed `tessera cluster`. Returns whether it killed one.
 */
export function killByPidFile(file: string, mustContain: string[]): boolean {
  const pid = livePidFromFile(file, mustContain);
  if (pid === null) return false;
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}
