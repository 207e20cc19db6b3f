import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig, redactConfig } from '../../src/core/config/index.ts';

const valid = () => ({
  cluster: { name: 't', secret: 'x' },
  router: { url: 'http://127.0.0.1:8080' },
  shards: [
    { id: 0, nodes: [{ id: 'a', url: 'http://127.0.0.1:7100' }, { id: 'b', url: 'http://127.0.0.1:7101' }, { id: 'c', url: 'http://127.0.0.1:7102' }] },
  ],
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

describe('config', () => {
  it('accepts a minimal config, fills defaults, resolves dataDir against the file folder, freezes it', () => {
    const cfg = parseConfig(valid(), { baseDir: '/base', env: {} });
    expect(cfg.replication.writeQuorum).toBe(2);
    expect(cfg.replication.walRetention).toBe(100000);
    expect(cfg.limits.maxDocBytes).toBe(1048576);
    expect(cfg.dataDir).toBe('/base/data');
    expect(Object.isFrozen(cfg.shards[0]!.nodes[0])).toBe(true);
  });

  it('reports a bad node url by its path', () => {
    const raw = valid();
    raw.shards[0]!.nodes[2]!.url = 'not a url';
    expect(problems(raw)).toEqual([expect.stringMatching(/^shards\[0\]\.nodes\[2\]\.url: /)]);
  });

  it('lists every problem, not just the first', () => {
    const raw = valid() as Record<string, unknown> & ReturnType<typeof valid>;
    raw.shards[0]!.nodes[1]!.id = 'bad id!';
    (raw as { router: unknown }).router = { url: 42 };
    const p = problems(raw);
    expect(p.some((l) => l.startsWith('shards[0].nodes[1].id: '))).toBe(true);
    expect(p.some((l) => l.startsWith('router.url: '))).toBe(true);
  });

  it('refuses a write quorum that is not a majority unless allowUnsafeQuorum', () => {
    const raw = { ...valid(), replication: { writeQuorum: 1 } };
    expect(problems(raw)).toEqual([expect.stringMatching(/^replication\.writeQuorum: .*not a majority/)]);
    expect(problems({ ...valid(), replication: { writeQuorum: 1, allowUnsafeQuorum: true } })).toEqual([]);
  });

  it('reports duplicate node ids, duplicate ports, shard ids out of order and unknown keys', () => {
    const raw = valid() as ReturnType<typeof valid> & { extra?: number };
    raw.shards.push({ id: 5, nodes: [{ id: 'a', url: 'http://127.0.0.1:7100' }] });
    raw.extra = 1;
    const p = problems({ ...raw, replication: { allowUnsafeQuorum: true } });
    expect(p).toEqual(expect.arrayContaining([
      expect.stringMatching(/^shards\[1\]\.id: /),
      expect.stringMatching(/^shards\[1\]\.nodes\[0\]\.id: duplicate/),
      expect.stringMatching(/^shards\[1\]\.nodes\[0\]\.url: duplicate/),
    ]));
    expect(p.some((l) => /extra/.test(l))).toBe(true);
  });

  it('applies env overrides and never shows the secret when redacted', () => {
    const cfg = parseConfig(valid(), { baseDir: '/base', env: { TESSERA_SECRET: 'from-env', TESSERA_WRITE_QUORUM: '3' } });
    expect(cfg.cluster.secret).toBe('from-env');
    expect(cfg.replication.writeQuorum).toBe(3);
    expect(JSON.stringify(redactConfig(cfg))).not.toContain('from-env');
  });

  const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loadConfig reports unreadable and non-JSON files as config errors', () => {
    expect(() => loadConfig(join(dir, 'missing.json'), {})).toThrow(ConfigError);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ nope');
    expect(() => loadConfig(bad, {})).toThrow(/not valid JSON/);
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ ...valid(), dataDir: 'rel' }));
    expect(loadConfig(good, {}).dataDir).toBe(join(dir, 'rel'));
  });
});
