import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, redactConfig, tlsFor } from '../../src/core/config/index.ts';

// The optional `auth` and `tls` blocks of the config (DESIGN §3, contract):
// what is accepted, every problem by path, paths against the config folder,
// and nothing secret in the redacted copy.

const H = 'a'.repeat(64);
const base = (scheme = 'http') => ({
  cluster: { name: 't', secret: 'the-secret' },
  router: { url: `${scheme}://127.0.0.1:8080` },
  shards: [{ id: 0, nodes: ['a', 'b', 'c'].map((id, i) => ({ id, url: `${scheme}://127.0.0.1:710${i}` })) }],
});

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw, { baseDir: '/base', env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

describe('auth', () => {
  it('takes users with a SHA-256, a role and optional dbs; refuses bad ones by path', () => {
    expect(problems({ ...base(), auth: { users: [{ name: 'app', tokenSha256: H, role: 'read', dbs: ['notes'] }] } })).toEqual([]);
    expect(problems({ ...base(), auth: { users: [{ name: 'app', tokenSha256: 'abc', role: 'root' }] } })).toEqual([
      expect.stringMatching(/^auth\.users\[0\]\.tokenSha256: tokenSha256 must be 64/),
      expect.stringMatching(/^auth\.users\[0\]\.role: /),
    ]);
    expect(problems({ ...base(), auth: { users: [{ name: 'a', tokenSha256: H, role: 'read' }, { name: 'a', tokenSha256: H, role: 'admin' }] } })).toEqual([
      'auth.users[1].name: duplicate user name a',
      'auth.users[1].tokenSha256: two users share one token',
    ]);
    expect(problems({ ...base(), auth: { users: [{ name: 'a', tokenSha256: H, role: 'read', token: 'plain' }] } })).toEqual([
      expect.stringMatching(/^auth\.users\[0\]: Unrecognized key/),
    ]);
  });

  it('keeps the secret and the token hashes out of the redacted config', () => {
    const cfg = parseConfig({ ...base(), auth: { users: [{ name: 'app', tokenSha256: H, role: 'read' }] } }, { baseDir: '/base', env: {} });
    const text = JSON.stringify(redactConfig(cfg));
    expect(text).not.toContain('the-secret');
    expect(text).not.toContain(H);
    expect(text).toContain('"name":"app"');
  });
});

describe('tls', () => {
  it('resolves every path against the config folder; per-process cert/key override the defaults', () => {
    const raw = { ...base('https'), tls: { cert: 'all.pem', key: 'all-key.pem', ca: 'ca.pem' } };
    (raw.shards[0]!.nodes[1] as Record<string, unknown>).tls = { cert: 'b.pem', key: '/abs/b-key.pem' };
    const cfg = parseConfig(raw, { baseDir: '/base/conf', env: {} });
    expect(tlsFor(cfg, 'router')).toEqual({ cert: '/base/conf/all.pem', key: '/base/conf/all-key.pem', ca: '/base/conf/ca.pem' });
    expect(tlsFor(cfg, { nodeId: 'b' })).toEqual({ cert: '/base/conf/b.pem', key: '/abs/b-key.pem', ca: '/base/conf/ca.pem' });
    expect(tlsFor(parseConfig(base(), { baseDir: '/x', env: {} }), 'router')).toBeNull();
  });

  it('mixing http and https is a config error, either way round', () => {
    const mixed = { ...base('https'), tls: { cert: 'c.pem', key: 'k.pem', ca: 'ca.pem' } };
    mixed.shards[0]!.nodes[2]!.url = 'http://127.0.0.1:7102';
    expect(problems(mixed)).toEqual(['shards[0].nodes[2].url: with a tls block every URL must be https:// (mixing http and https is not allowed)']);
    const noTls = base();
    noTls.router.url = 'https://127.0.0.1:8080';
    expect(problems(noTls)).toEqual(['router.url: an https:// URL needs the top-level tls block (cert, key, ca)']);
  });

  it('every process needs a certificate: its own or the default', () => {
    const raw = { ...base('https'), tls: { ca: 'ca.pem' } };
    (raw.router as Record<string, unknown>).tls = { cert: 'r.pem', key: 'r-key.pem' };
    expect(problems(raw)).toEqual([0, 1, 2].map((j) => `shards[0].nodes[${j}].tls: no certificate: give this process tls {cert, key} or set tls.cert and tls.key`));
    expect(problems({ ...base('https'), tls: { cert: 'c.pem', ca: 'ca.pem' } })).toEqual(['tls: tls.cert and tls.key go together', ...[
      'router.tls', 'shards[0].nodes[0].tls', 'shards[0].nodes[1].tls', 'shards[0].nodes[2].tls',
    ].map((p) => `${p}: no certificate: give this process tls {cert, key} or set tls.cert and tls.key`)]);
    const perProcessOnly = { ...base(), router: { url: 'http://127.0.0.1:8080', tls: { cert: 'r.pem', key: 'k.pem' } } };
    expect(problems(perProcessOnly)).toEqual(['router.tls: a per-process tls block needs the top-level tls block (ca)']);
  });
});
