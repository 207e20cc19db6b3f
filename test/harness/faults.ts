import type { Rng } from '../../src/core/rng.ts';
import type { TestCluster } from './index.ts';
import { waitFor } from './index.ts';

/**
 * One step of a seeded fault schedule: picks a victim (the primary 70 % of
 * the time), pauses it or (30 %) SIGKILLs it for 200..1800 ms — around a
 * typical failoverTimeoutMs, so some faults end before detection and some
 * after an election — then resumes or restarts it. Returns the step's
 * description for the schedule a failing test prints with its seed.
 */
export async function seededFault(c: TestCluster, nodes: readonly string[], primary: string | null | undefined, random: Rng): Promise<string> {
  const victim: string = primary != null && random.next() < 0.7 ? primary : nodes[Math.floor(random.next() * nodes.length)]!;
  const p = c.nodes[victim]!;
  const faultMs = 200 + Math.floor(random.next() * 1600);
  const kill = random.next() < 0.3;
  if (kill) await p.kill('SIGKILL');
  else p.pause();
  const faultEnd = Date.now() + faultMs;
  await waitFor(() => Date.now() >= faultEnd, { timeoutMs: faultMs + 1000, intervalMs: 20 });
  if (kill) await p.restart();
  else p.resume();
  return `${kill ? 'kill' : 'pause'} ${victim}${victim === primary ? '(P)' : ''} ${faultMs}ms`;
}
