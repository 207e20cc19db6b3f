import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TESSERA_BIN, writeTestConfig, type TestConfig } from '../harness/index.ts';

// `tessera chaos` as an operator runs it: on a small cluster with real faults
// it must finish green (exit 0), and it must fail (exit 1, the violation
// named) when a planted fault breaks a promise. The planted faults are a
// stand-in process the load goes through (TESSERA_CHAOS_FRONT, test only):
// one serves stale reads (only the linearizability checker can see that),
// one acknowledges writes it never sends (only the lost-write check can).

interface Run { code: number; stdout: string; stderr: string }

function tessera(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const base: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(base)) if (k.startsWith('TESSERA_')) delete base[k];
  return new Promise((resolve) => {
    execFile(process.execPath, [TESSERA_BIN, 'chaos', ...args], { env: { ...base, ...env }, timeout: 115_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const FRONT = `
import { createServer, request } from 'node:http';
import { createHash } from 'node:crypto';
const router = new URL(process.argv[2]);
const mode = process.env.CHAOS_FRONT_MODE;
const firstRead = new Map();
let fresh = 0;
const forward = (req, body, res, keep) => {
  const up = request({ host: router.hostname, port: router.port, path: req.url, method: req.method, headers: req.headers }, (u) => {
    const chunks = [];
    u.on('data', (c) => chunks.push(c));
    u.on('end', () => {
      const text = Buffer.concat(chunks);
      keep?.(u.statusCode, text);
      res.writeHead(u.statusCode, { 'content-type': u.headers['content-type'] ?? 'application/json' });
      res.end(text);
    });
  });
  up.on('error', () => { res.statusCode = 502; res.end(); });
  up.end(body);
};
createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const doc = /^\\/v1\\/db\\/chaos\\/docs\\/([^?]+)/.exec(req.url ?? '');
    if (mode === 'stale-read' && doc && doc[1].startsWith('k') && req.method === 'GET') {
      // A stale read: the first answer this key ever got, forever.
      const seen = firstRead.get(doc[1]);
      if (seen) { res.writeHead(200, { 'content-type': 'application/json' }); return res.end(seen); }
      return forward(req, body, res, (status, text) => { if (status === 200) firstRead.set(doc[1], text); });
    }
    if (mode === 'ack-without-write' && doc && doc[1].startsWith('f-') && req.method === 'PUT' && fresh++ % 4 === 0) {
      // Acknowledged, never sent: no quorum, no primary, nothing.
      const rev = '1-' + createHash('sha1').update(body).digest('hex');
      res.writeHead(201, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ id: doc[1], rev, data: JSON.parse(body).data, seq: 1, shard: 0, acks: 2 }));
    }
    forward(req, body, res);
  });
}).listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ msg: 'listening', url: 'http://127.0.0.1:' + this.address().port })); });
`;

let tc: TestConfig;
let dir: string;
let front: string;
beforeAll(async () => {
  tc = await writeTestConfig({ shards: 1, nodesPerShard: 3 });
  dir = await mkdtemp(join(tmpdir(), 'tessera-chaos-test-'));
  front = join(dir, 'front.mjs');
  await writeFile(front, FRONT);
});
afterAll(async () => {
  await tc?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('tessera chaos', () => {
  it('finishes green on a small cluster under kills, pauses, primary kills and cut links', async () => {
    const r = await tessera(['--config', tc.path, '--duration', '15s', '--clients', '8', '--seed', '7']);
    const out = r.stdout + r.stderr;
    if (process.env.TESSERA_TEST_VERBOSE) console.log(out);
    expect(r.stderr).toMatch(/^tessera chaos: 1 shards × 3 nodes, 15s, faults kill,pause,primary,partition, 8 clients, seed 7 \(replay: --seed 7\)$/m);
    // The seeded schedule really ran faults, and the router elected at least once.
    expect(r.stdout).toMatch(/\] (kill \(SIGKILL\)|pause \(SIGSTOP\)|cut the link router ↔) s0[abc] \(shard 0/);
    expect(r.stdout).toMatch(/^ {2}acknowledged writes +[1-9]\d* /m);
    expect(r.stdout).toMatch(/^ {2}OK +no acknowledged write lost \([1-9]\d* fresh documents read back\)$/m);
    expect(r.stdout).toMatch(/^ {2}OK +linearizable: \d+ documents, [1-9]\d* operations \(checker: ok\)$/m);
    expect(r.stdout).toMatch(/^ {2}OK +converged: shard 0 at seq \d+: every copy equal$/m);
    expect(r.stdout).toMatch(/^PASS \(exit 0; seed 7\)$/m);
    expect(r.code, out).toBe(0);
  });

  it('fails with exit 1 and names the violation when a stand-in serves stale reads', async () => {
    const r = await tessera(['--config', tc.path, '--duration', '6s', '--clients', '6', '--faults', 'none', '--seed', '1', '--json'],
      { TESSERA_CHAOS_FRONT: front, CHAOS_FRONT_MODE: 'stale-read' });
    expect(r.code, r.stderr).toBe(1);
    const res = JSON.parse(r.stdout) as { verdict: Record<string, boolean>; linearizable: { status: string; report: string }; lost: string[]; dataDir: string | null };
    expect(res.linearizable.status).toBe('violation');
    expect(res.linearizable.report).toMatch(/key "k0-\d+": violation/);
    expect(res.linearizable.report).toMatch(/read → ok \d+-[0-9a-f]{8}/);
    // The other proofs still hold: only the checker can see a stale read.
    expect(res.verdict).toMatchObject({ lost: true, converged: true, linearizable: false, pass: false, violation: true });
    // A failing run keeps its data and logs.
    expect(res.dataDir).toMatch(/tessera-chaos-/);
    await rm(res.dataDir!, { recursive: true, force: true });
  });

  it('fails with exit 1 and names the lost writes when a stand-in acknowledges writes it never sent', async () => {
    const r = await tessera(['--config', tc.path, '--duration', '5s', '--clients', '6', '--faults', 'none', '--seed', '2'],
      { TESSERA_CHAOS_FRONT: front, CHAOS_FRONT_MODE: 'ack-without-write' });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^ {2}VIOLATION no acknowledged write lost \(\d+ fresh documents read back; lost: f-\d+-\d+: acknowledged 1-[0-9a-f]{40}, read 404/m);
    expect(r.stdout).toMatch(/^ {2}lost acknowledged writes [1-9]\d*$/m);
    expect(r.stdout).toMatch(/^FAIL \(exit 1; seed 2; data and logs kept in \S+\)$/m);
    const kept = /data and logs kept in (\S+)\)/.exec(r.stdout)![1]!;
    await rm(kept, { recursive: true, force: true });
  });

  it('exits 2 on usage errors', async () => {
    expect((await tessera(['--config', tc.path, '--faults', 'kill,flood'])).code).toBe(2);
    expect((await tessera(['--config', tc.path, '--duration', 'soon'])).code).toBe(2);
    expect((await tessera(['--config', tc.path, '--compose', '--faults', 'partition'])).code).toBe(2);
  });
});
