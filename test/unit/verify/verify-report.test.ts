import { describe, expect, it } from 'vitest';
import { formatRepairs, formatShardReport, reportExit, type ShardReport } from '../../../src/cli/verify-report.ts';

const base: ShardReport = {
  shard: 0, seq: 44, term: 1, primaryId: 's0a', depth: 10, consistent: true, complete: true,
  nodes: [{ id: 's0a', role: 'primary', status: 'compared', docs: 40 }, { id: 's0b', role: 'replica', status: 'compared', docs: 40 }],
  divergent: [], dbs: [], treeNodesCompared: 2, ms: 12,
};

describe('tessera verify output', () => {
  it('an equal shard is one line, exit 0', () => {
    expect(formatShardReport(base)).toBe('shard 0 at seq 44 (term 1, primary s0a): 2 of 2 copies compared, all equal (40 documents, 1024 ranges, 12 ms)\n');
    expect(reportExit(base)).toBe(0);
  });

  it('names every copy of a divergent document, says how it differs, exit 1', () => {
    const r: ShardReport = {
      ...base, consistent: false,
      divergent: [
        { db: 'v', id: 'doc-7', primaryOutvoted: false, copies: [
          { node: 's0a', rev: `1-${'e'.repeat(40)}`, hash: 'h', same: true },
          { node: 's0b', rev: `1-${'e'.repeat(40)}`, hash: 'x', same: false },
        ] },
        { db: 'v', id: 'doc-9', primaryOutvoted: true, copies: [
          { node: 's0a', rev: null, hash: null, same: true },
          { node: 's0b', rev: `2-${'a'.repeat(40)}`, deleted: true, hash: 'y', same: false },
        ] },
      ],
    };
    expect(formatShardReport(r).split('\n')).toEqual([
      'shard 0 at seq 44 (term 1, primary s0a): 2 of 2 copies compared: 2 documents differ (2 tree nodes walked, 12 ms)',
      '  DB  ID     NODE  REV                   COPY',
      '  v   doc-7  s0a   1-eeeeeeee            primary',
      '             s0b   1-eeeeeeee            DIFFERS: same rev, other content',
      '  v   doc-9  s0a   -                     primary (has none)',
      '             s0b   2-aaaaaaaa (deleted)  extra (the primary has none)',
      '                                         a majority of copies disagrees with the primary: repair will refuse it',
      '',
    ]);
    expect(reportExit(r)).toBe(1);
  });

  it('a copy not compared is named with why; nothing divergent then exits 3', () => {
    const r: ShardReport = { ...base, complete: false, consistent: false, nodes: [base.nodes[0]!, { id: 's0b', role: 'replica', status: 'unreachable', detail: 'connect ECONNREFUSED' }] };
    expect(formatShardReport(r)).toContain('  s0b: not compared (unreachable: connect ECONNREFUSED)');
    expect(reportExit(r)).toBe(3);
  });

  it('repairs: each with its log entry, refusals and failures with the reason', () => {
    expect(formatRepairs(0, [
      { db: 'v', id: 'a', outcome: 'repaired', seq: 45, acks: 2 },
      { db: 'v', id: 'b', outcome: 'refused', detail: 'majority' },
      { db: 'v', id: 'c', outcome: 'failed', detail: 'quorum_not_met: late' },
    ])).toBe('shard 0: repaired v/a with log entry seq 45 (durable on 2 copies)\nshard 0: did not repair v/b: majority\nshard 0: repair FAILED for v/c: quorum_not_met: late\n');
    expect(formatRepairs(0, [])).toBe('');
  });
});
