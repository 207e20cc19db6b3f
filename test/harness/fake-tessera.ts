import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

// A stand-in for bin/tessera.mjs in the launcher's and the harness's own
// tests: each process serves HTTP on its config URL, names itself, logs the
// `listening` line the launcher waits for, and exits 0 on SIGTERM. The
// router's /readyz turns 200 only after a few polls (like a router building
// its shard view). A node writes its PID to <dataDir>/<id>/tessera.pid and
// removes it on SIGTERM, as a real node does. FAKE_FAIL=<id> makes that
// process exit 2 at start; FAKE_NEVER_READY=1 keeps /readyz at 503.
const SCRIPT = `
import { createServer } from 'node:http';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
const args = process.argv.slice(2);
const opt = (k) => args[args.indexOf(k) + 1];
const cfg = JSON.parse(readFileSync(opt('--config'), 'utf8'));
const who = args[0] === 'router' ? 'router' : opt('--node');
const url = who === 'router' ? cfg.router.url : cfg.shards.flatMap((s) => s.nodes).find((n) => n.id === who).url;
if (process.env.FAKE_FAIL === who) { console.error('cannot start ' + who); process.exit(2); }
let polls = 0;
const server = createServer((req, res) => {
  if (req.url === '/readyz') { polls++; res.statusCode = polls >= 3 && process.env.FAKE_NEVER_READY !== '1' ? 200 : 503; }
  res.end(JSON.stringify({ who, path: req.url, nodes: cfg.shards[0].nodes }));
});
console.log(JSON.stringify({ level: 20, msg: 'debug detail' }));
const pidFile = who === 'router' ? null : cfg.dataDir + '/' + who + '/tessera.pid';
server.listen(Number(new URL(url).port), '127.0.0.1', () => {
  if (pidFile) { mkdirSync(cfg.dataDir + '/' + who, { recursive: true }); writeFileSync(pidFile, String(process.pid)); }
  console.log(JSON.stringify({ level: 30, msg: 'listening', url }));
});
process.on('SIGTERM', () => {
  if (pidFile) rmSync(pidFile, { force: true });
  console.log(JSON.stringify({ level: 30, msg: 'stopped' }));
  process.exit(0);
});
`;

/** Writes the stand-in into `dir` and returns its path (pass it as `entry`). */
export async function writeFakeTessera(dir: string): Promise<string> {
  const path = join(dir, 'fake-tessera.mjs');
  await writeFile(path, SCRIPT);
  return path;
}
