import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TESSERA_BIN } from '../../src/launch/managed-process.ts';

// `tessera shard` refuses to start on bad input with exit 2 and says why.

const dir = mkdtempSync(join(tmpdir(), 'tessera-shard-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [TESSERA_BIN, 'shard', ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, TESSERA_SECRET: '' } });
  return { code: r.status, stderr: r.stderr };
}

describe('tessera shard start-up errors', () => {
  it('an invalid config exits 2 and lists every problem by path', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({
      cluster: { secret: 'x' },
      router: { url: 'http://127.0.0.1:17990' },
      shards: [{ id: 0, nodes: [{ id: 'a', url: 'nope' }, { id: 'b c', url: 'http://127.0.0.1:17991' }] }],
    }));
    const r = run(['--config', file, '--node', 'a']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/shards\[0\]\.nodes\[0\]\.url: /);
    expect(r.stderr).toMatch(/shards\[0\]\.nodes\[1\]\.id: /);
  });

  it('an unknown node, a missing --node and a bad log level exit 2', () => {
    const file = join(dir, 'good.json');
    writeFileSync(file, JSON.stringify({
      cluster: { secret: 'x' },
      router: { url: 'http://127.0.0.1:17990' },
      dataDir: join(dir, 'data'),
      replication: { writeQuorum: 1 },
      shards: [{ id: 0, nodes: [{ id: 'a', url: 'http://127.0.0.1:17991' }] }],
    }));
    expect(run(['--config', file, '--node', 'zz'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/not in/) });
    expect(run(['--config', file]).code).toBe(2);
    expect(run(['--config', file, '--node', 'a', '--log-level', 'loud'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--log-level must be one of/) });
  });
});
