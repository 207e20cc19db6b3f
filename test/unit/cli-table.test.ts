import { describe, expect, it } from 'vitest';
import { renderTable, useColor, paint } from '../../src/cli/table.ts';
import { asClusterInfo, formatWhen, renderClusterTable } from '../../src/cli/cluster-table.ts';
import { resolveTarget, describeAnswer, DEFAULT_ROUTER_URL } from '../../src/cli/router-client.ts';
import { parseConfig } from '../../src/core/config/index.ts';
import { describeTopology } from '../../src/cli/topology-summary.ts';

const stripAnsi = (s: string) => s.replace(/\u001b\[\d+m/g, '');

describe('renderTable', () => {
  it('pads columns to the widest cell, right-aligns numbers, no trailing spaces', () => {
    const out = renderTable([{ header: 'NAME' }, { header: 'N', align: 'right' }, { header: 'NOTE' }], [
      ['a', '1', 'x'],
      ['longer', '1234', ''],
    ]);
    expect(out).toBe('NAME       N  NOTE\na          1  x\nlonger  1234\n');
  });

  it('colours without changing the alignment', () => {
    const cols = [{ header: 'H' }, { header: 'V' }];
    const rows = [[{ text: 'ok', style: 'green' as const }, 'x'], ['longer', 'y']];
    const plain = renderTable(cols, rows);
    const coloured = renderTable(cols, rows, { color: true });
    expect(coloured).not.toBe(plain);
    expect(coloured).toContain('\u001b[32mok\u001b[39m');
    expect(stripAnsi(coloured)).toBe(plain);
  });

  it('paint is the identity without colour', () => {
    expect(paint('x', 'red', false)).toBe('x');
  });
});

describe('useColor', () => {
  it.each([
    [true, {}, true],
    [true, { NO_COLOR: '1' }, false],
    [true, { NO_COLOR: '' }, true],
    [false, {}, false],
    [undefined, {}, false],
  ])('isTTY=%s env=%j → %s', (isTTY, env, expected) => {
    expect(useColor({ isTTY }, env)).toBe(expected);
  });
});

describe('renderClusterTable', () => {
  const NOW = Date.parse('2024-05-01T12:05:00.000Z');
  const info = {
    shards: [
      { id: 0, term: 2, primaryId: 's0b', commitSeq: 10, writesPaused: false,
        lastElection: { at: '2024-05-01T12:03:04.512Z', reason: 'primary_offline', outcome: 'elected', term: 2, winner: 's0b', durationMs: 253 },
        nodes: [
          { id: 's0a', url: 'http://a', role: 'replica', term: 2, lastSeq: 8, commitSeq: 8, lag: 2, health: 'CatchingUp', rollbackCount: 3 },
          { id: 's0b', url: 'http://b', role: 'primary', term: 2, lastSeq: 10, commitSeq: 10, lag: 0, health: 'InSync', rollbackCount: 0 },
          { id: 's0c', url: 'http://c', role: null, term: null, lastSeq: null, lag: null, health: 'Offline' },
        ] },
      { id: 1, term: 1, primaryId: null, commitSeq: 4, writesPaused: true, lastElection: null, nodes: [] },
    ],
  };

  it('one row per node with dashes for unknown values, then one row per shard with its last election', () => {
    const out = renderClusterTable(asClusterInfo(info), false, NOW);
    expect(out.split('\n')).toEqual([
      'SHARD  NODE  ROLE     TERM  LASTSEQ  LAG  HEALTH      COMMITSEQ  ROLLBACKS',
      '    0  s0a   replica     2        8    2  CatchingUp          8          3',
      '    0  s0b   primary     2       10    0  InSync             10          0',
      '    0  s0c   -           -        -    -  Offline             -          -',
      '',
      'SHARD  TERM  PRIMARY  COMMIT  WRITES  LAST ELECTION       WHY              OUTCOME  WINNER    TOOK',
      '    0     2  s0b          10  open    12:03:04Z (1m ago)  primary_offline  elected  s0b     253 ms',
      '    1     1  -             4  paused  -                   -                -        -            -',
      '',
    ]);
  });

  it('shows the date of an election on another day', () => {
    expect(formatWhen('2024-04-29T23:59:58.000Z', NOW)).toBe('2024-04-29 23:59:58Z (1d ago)');
    expect(formatWhen('not a date', NOW)).toBe('not a date');
  });

  it('colours health, rollbacks, paused writes and the primary on a terminal', () => {
    const out = renderClusterTable(asClusterInfo(info), true, NOW);
    expect(out).toContain('\u001b[31mOffline\u001b[39m');
    expect(out).toContain('\u001b[1ms0b\u001b[22m');
    expect(out).toContain('\u001b[33mpaused\u001b[39m');
    expect(stripAnsi(out)).toBe(renderClusterTable(asClusterInfo(info), false, NOW));
  });

  it('refuses an answer without shards[].nodes[]', () => {
    expect(() => asClusterInfo({ ok: true })).toThrow(/unexpected/);
    expect(() => asClusterInfo({ shards: [{ id: 0 }] })).toThrow(/unexpected/);
  });
});

describe('resolveTarget', () => {
  const cfg = parseConfig({
    cluster: { secret: 'from-file' },
    router: { url: 'http://10.0.0.1:9000' },
    shards: [{ id: 0, nodes: [{ id: 'a', url: 'http://10.0.0.2:7000' }] }],
    replication: { writeQuorum: 1 },
  }, { baseDir: '/', env: {} });

  it.each([
    ['flags win', { router: 'http://r:1/', secret: 'flag' }, cfg, { TESSERA_SECRET: 'env' }, { url: 'http://r:1', secret: 'flag' }],
    ['env secret before the file', {}, cfg, { TESSERA_SECRET: 'env' }, { url: 'http://10.0.0.1:9000', secret: 'env' }],
    ['the config file', {}, cfg, {}, { url: 'http://10.0.0.1:9000', secret: 'from-file' }],
    ['defaults', {}, null, {}, { url: DEFAULT_ROUTER_URL, secret: undefined }],
  ])('%s', (_n, flags, config, env, expected) => {
    expect(resolveTarget(flags, config, env)).toEqual(expected);
  });
});

describe('describeAnswer', () => {
  it('uses the error code and message of an error body', () => {
    expect(describeAnswer({ status: 404, body: { ok: false, error: 'not_found', message: 'No shard 9' } })).toBe('404 not_found: No shard 9');
    expect(describeAnswer({ status: 502, body: 'Bad Gateway' })).toBe('502 Bad Gateway');
  });
});

describe('describeTopology', () => {
  it('lists every node and never the secret; warns about an unsafe quorum', () => {
    const cfg = parseConfig({
      cluster: { secret: 'top-secret' },
      router: { url: 'http://127.0.0.1:8080' },
      replication: { writeQuorum: 1, allowUnsafeQuorum: true },
      shards: [{ id: 0, nodes: [{ id: 's0a', url: 'http://127.0.0.1:7100' }, { id: 's0b', url: 'http://127.0.0.1:7101' }] }],
    }, { baseDir: '/srv', env: {} });
    const out = describeTopology(cfg);
    expect(out).not.toContain('top-secret');
    expect(out).toMatch(/s0a\s+http:\/\/127\.0\.0\.1:7100\s+primary \(initial\)/);
    expect(out).toMatch(/s0b\s+http:\/\/127\.0\.0\.1:7101\s+replica/);
    expect(out).toContain('WARNING: allowUnsafeQuorum');
    expect(out).toContain('data in /srv/data');
  });
});
