import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, tlsFor } from '../../src/core/config/index.ts';
import { sha256Hex } from '../../src/core/http/access.ts';
import { TESSERA_BIN } from '../../src/launch/managed-process.ts';

// `tessera token` and `tessera certs` (DESIGN §2), run as a user runs them.

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-sec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tessera = (...args: string[]) => run(process.execPath, [TESSERA_BIN, ...args], { timeout: 30_000 })
  .then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => e);

describe('tessera token', () => {
  it('prints a fresh token and the config line holding only its SHA-256', async () => {
    const a = await tessera('token', '--name', 'app', '--role', 'readwrite', '--db', 'notes', '--db', 'todo');
    expect(a.code).toBe(0);
    const [tokenLine, configLine] = a.stdout.trim().split('\n');
    const token = tokenLine!.replace(/^token: /, '');
    const user = JSON.parse(configLine!.replace(/^config: /, ''));
    expect(user).toEqual({ name: 'app', tokenSha256: sha256Hex(token), role: 'readwrite', dbs: ['notes', 'todo'] });
    expect(configLine).not.toContain(token);
    const b = await tessera('token', '--name', 'app', '--role', 'read');
    expect(b.stdout).not.toContain(token);
  });

  it('refuses a bad role, name or db with exit 2', async () => {
    for (const args of [['--name', 'a', '--role', 'root'], ['--name', 'a b', '--role', 'read'], ['--name', 'a', '--role', 'read', '--db', 'Bad']]) {
      const r = await tessera('token', ...args);
      expect(r.code, args.join(' ')).toBe(2);
    }
  });
});

describe('tessera certs', () => {
  it('makes a CA, a certificate per process for its host, and the config on https', async () => {
    const src = join(dir, 'in.json');
    writeFileSync(src, JSON.stringify({
      cluster: { name: 't', secret: 's' }, router: { url: 'http://127.0.0.1:18080' }, dataDir: './data',
      shards: [{ id: 0, nodes: [{ id: 'n1', url: 'http://127.0.0.1:17100' }, { id: 'n2', url: 'http://localhost:17101' }, { id: 'n3', url: 'http://127.0.0.1:17102' }] }],
    }));
    const out = join(dir, 'out');
    const r = await tessera('certs', '--config', src, '--out', out);
    expect(r.code).toBe(0);
    const cfg = loadConfig(join(out, 'config.json'), {});
    expect(cfg.router.url).toBe('https://127.0.0.1:18080');
    expect(cfg.dataDir).toBe(join(dir, 'data'));
    expect(tlsFor(cfg, { nodeId: 'n2' })).toEqual({ cert: join(out, 'n2.pem'), key: join(out, 'n2-key.pem'), ca: join(out, 'ca.pem') });
    for (const id of ['router', 'n1', 'n2', 'n3']) {
      execFileSync('openssl', ['verify', '-CAfile', join(out, 'ca.pem'), join(out, `${id}.pem`)]);
      expect(statSync(join(out, `${id}-key.pem`)).mode & 0o077).toBe(0);
    }
    const san = (id: string) => execFileSync('openssl', ['x509', '-in', join(out, `${id}.pem`), '-noout', '-ext', 'subjectAltName']).toString();
    expect(san('n1')).toMatch(/IP Address:127\.0\.0\.1/);
    expect(san('n2')).toMatch(/DNS:localhost/);
    // Relative paths in the written config: the folder can move as a whole.
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).tls).toEqual({ ca: 'ca.pem' });
    // A config that has TLS already is refused.
    expect((await tessera('certs', '--config', join(out, 'config.json'), '--out', join(dir, 'again'))).code).toBe(2);
  });
});
