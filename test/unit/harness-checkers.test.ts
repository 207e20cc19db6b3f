import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Doc } from '../../src/core/protocol.ts';
import { AckWriters } from '../harness/ack-writers.ts';
import { assertAckedOnNodes, digestDiff, readAllAcked, type AckedWrite, type ShardDigest } from '../harness/convergence.ts';
import { waitFor } from '../harness/index.ts';
import { WriteLoad } from '../harness/write-load.ts';

// The cluster tests' checkers, each fed a planted fault it must report: a
// lost or changed acknowledged write, a diverged log, a write answer that no
// fault explains. A checker that cannot flag these proves nothing.

const doc = (id: string, rev: string, data: Record<string, unknown> = { v: id }): Doc => ({ id, rev, data });

function digest(nodeId: string, docs: Doc[], log: string[], over: Partial<ShardDigest> = {}): ShardDigest {
  const last = log.at(-1)?.split(':').map(Number) ?? [0, 0];
  return { nodeId, lastSeq: last[0]!, lastTerm: last[1]!, commitSeq: last[0]!, oldestSeq: 1, docs: { d: docs }, log, ...over };
}

const acked: AckedWrite[] = [{ id: 'a', rev: '1-aa', data: { v: 'a' } }, { id: 'b', rev: '1-bb', data: { v: 'b' } }];

describe('digestDiff', () => {
  const base = digest('n1', [doc('a', '1-aa'), doc('b', '1-bb')], ['1:1', '2:1', '3:2']);

  it('finds nothing between equal copies', () => {
    expect(digestDiff(base, { ...structuredClone(base), nodeId: 'n2' })).toEqual([]);
  });
  it('reports a document missing on one copy', () => {
    const other = digest('n2', [doc('a', '1-aa')], ['1:1', '2:1', '3:2']);
    expect(digestDiff(base, other).join('\n')).toMatch(/b only on n1/);
  });
  it('reports a document that differs between copies', () => {
    const other = digest('n2', [doc('a', '1-aa'), doc('b', '1-bb', { v: 'changed' })], ['1:1', '2:1', '3:2']);
    expect(digestDiff(base, other).join('\n')).toMatch(/b differs/);
  });
  it('reports a log that diverged at the same length', () => {
    const other = digest('n2', [doc('a', '1-aa'), doc('b', '1-bb')], ['1:1', '2:2', '3:2']);
    expect(digestDiff(base, other).join('\n')).toMatch(/log differs from entry 1/);
  });
  it('reports different log ends', () => {
    const other = digest('n2', [doc('a', '1-aa'), doc('b', '1-bb')], ['1:1', '2:1']);
    expect(digestDiff(base, other).join('\n')).toMatch(/last \(seq, term\)/);
  });
  it('compares logs only over the seqs both still hold (a trimmed copy is not a divergence)', () => {
    const trimmed = digest('n2', [doc('a', '1-aa'), doc('b', '1-bb')], ['3:2'], { oldestSeq: 3, lastSeq: 3, lastTerm: 2 });
    expect(digestDiff(base, trimmed)).toEqual([]);
  });
});

describe('assertAckedOnNodes', () => {
  it('passes when every acknowledged write is on every node', () => {
    const d = digest('n1', [doc('a', '1-aa'), doc('b', '1-bb')], []);
    expect(() => assertAckedOnNodes([d], 'd', acked)).not.toThrow();
  });
  it('flags a missing write, an older rev, other data and a tombstone', () => {
    const missing = digest('n1', [doc('a', '1-aa')], []);
    expect(() => assertAckedOnNodes([missing], 'd', acked)).toThrow(/n1: b missing/);
    const otherRev = digest('n2', [doc('a', '1-aa'), doc('b', '2-zz')], []);
    expect(() => assertAckedOnNodes([otherRev], 'd', acked)).toThrow(/n2: b has rev 2-zz/);
    const otherData = digest('n3', [doc('a', '1-aa', { v: 'x' }), doc('b', '1-bb')], []);
    expect(() => assertAckedOnNodes([otherData], 'd', acked)).toThrow(/n3: a has rev 1-aa/);
    const deleted = digest('n4', [{ ...doc('a', '1-aa'), deleted: true }, doc('b', '1-bb')], []);
    expect(() => assertAckedOnNodes([deleted], 'd', acked)).toThrow(/n4: a/);
  });
});

// A scripted router on loopback: each request gets the next answer of `script` (cycled).
let server: Server | null = null;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

async function fakeRouter(answer: (method: string, url: string) => { status: number; body: unknown } | 'drop'): Promise<string> {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const a = answer(req.method ?? 'GET', req.url ?? '/');
      if (a === 'drop') return req.socket.destroy();
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const addr = server.address() as { port: number };
  return `http://127.0.0.1:${addr.port}`;
}

describe('readAllAcked', () => {
  it('flags an acknowledged write the router no longer serves, or serves at another rev', async () => {
    const url = await fakeRouter((_m, u) => (u.endsWith('/a') ? { status: 200, body: doc('a', '1-aa') } : { status: 404, body: { ok: false, error: 'not_found' } }));
    await expect(readAllAcked(url, 'd', acked)).rejects.toThrow(/1 acknowledged writes not readable[\s\S]*b: 404 not_found/);
    const stale = await fakeRouter((_m, u) => ({ status: 200, body: u.endsWith('/a') ? doc('a', '1-aa') : doc('b', '0-old') }));
    await expect(readAllAcked(stale, 'd', acked)).rejects.toThrow(/b: rev 0-old, acknowledged 1-bb/);
  });
});

describe('write loads classify answers', () => {
  it('AckWriters: 503 no_primary / quorum_not_met are allowed; a 500, a dropped connection and another 4xx are unexpected', async () => {
    const answers: Array<{ status: number; body: unknown } | 'drop'> = [
      { status: 201, body: { rev: '1-x', seq: 1 } },
      { status: 503, body: { ok: false, error: 'no_primary', outcome: 'not_applied' } },
      { status: 503, body: { ok: false, error: 'quorum_not_met', outcome: 'indeterminate' } },
      { status: 500, body: { ok: false, error: 'internal' } },
      'drop',
      { status: 404, body: { ok: false, error: 'not_found' } },
    ];
    let n = 0;
    const url = await fakeRouter(() => answers[n++ % answers.length]!);
    const w = new AckWriters({ routerUrl: url, db: 'd', writers: 1, prefix: 'p', maxWrites: answers.length, maxMs: 10_000, requestTimeoutMs: 2000 }).start();
    await waitFor(() => w.attempts.length === answers.length, { timeoutMs: 5000, message: 'every scripted answer' });
    await w.stop();
    expect(w.acked.map((a) => a.id)).toEqual(['pw0-0']);
    expect(w.unexpected().map((a) => a.error)).toEqual(['internal', 'network', 'not_found']);
    // An attempt that overlaps a declared fault window is explained by it.
    const dropped = w.attempts.find((a) => a.error === 'network')!;
    expect(w.unexpected({ from: dropped.sentAt, to: dropped.endedAt }).map((a) => a.error)).toEqual(['internal', 'not_found']);
  });

  it('WriteLoad: records not_applied ids and everything that is not an allowed 503 as unexpected', async () => {
    const answers: Array<{ status: number; body: unknown } | 'drop'> = [
      { status: 503, body: { ok: false, error: 'no_primary', outcome: 'not_applied' } },
      { status: 500, body: { ok: false, error: 'internal' } },
      { status: 201, body: { rev: '1-x' } },
    ];
    let n = 0;
    const url = await fakeRouter(() => answers[n++ % answers.length]!);
    const load = new WriteLoad({ routerUrls: [url], db: 'd', writers: 1, prefix: 'q', requestTimeoutMs: 2000, maxWrites: 3, maxDurationMs: 10_000 }).start();
    await waitFor(() => load.acked.length === 1, { timeoutMs: 5000, message: 'the scripted 201' });
    await load.stop();
    expect(load.notApplied).toEqual(['q0-0']);
    expect(load.unexpected).toEqual(['q0-1: 500 internal']);
    expect(load.acked.map((a) => a.id)).toEqual(['q0-2']);
  });
});
