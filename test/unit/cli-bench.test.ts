import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { percentile, progressLine, resultsTable, summarize } from '../../src/cli/bench-stats.ts';
import { runBench } from '../../src/cli/bench-runner.ts';

describe('percentile', () => {
  it('nearest rank over unsorted samples', () => {
    const s = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(s, 50)).toBe(5);
    expect(percentile(s, 99)).toBe(10);
    expect(percentile(s, 10)).toBe(1);
    expect(percentile([], 50)).toBe(0);
    expect(percentile([7], 99)).toBe(7);
  });
});

describe('summarize', () => {
  it('counts ops, errors, rate and percentiles', () => {
    const r = summarize({ op: 'write', clients: 2, elapsedMs: 2000, latenciesMs: [1, 2, 3, 4], errorKinds: { '503 quorum_not_met': 2, network: 1 } });
    expect(r).toMatchObject({ ops: 4, errors: 3, opsPerSec: 2, p50Ms: 2, p99Ms: 4, maxMs: 4, elapsedMs: 2000 });
  });
  it('handles no successful request', () => {
    expect(summarize({ op: 'read', clients: 1, elapsedMs: 10, latenciesMs: [], errorKinds: {} })).toMatchObject({ ops: 0, opsPerSec: 0, p50Ms: 0, maxMs: 0 });
  });
});

describe('progressLine and resultsTable', () => {
  it('progress shows the window rate and totals', () => {
    expect(progressLine({ elapsedS: 3, op: 'write', windowOps: 500, windowMs: 500, windowLatenciesMs: [1, 2], totalOps: 1500, totalErrors: 2 }))
      .toBe('[  3s] write  1000 ops/s  p50 1.00 ms  p99 2.00 ms  total 1500  errors 2');
  });
  it('table has a row per result and lists error kinds', () => {
    const a = summarize({ label: '1x3', op: 'write', clients: 64, elapsedMs: 1000, latenciesMs: [1, 1, 2], errorKinds: {} });
    const b = summarize({ label: '3x3', op: 'write', clients: 64, elapsedMs: 1000, latenciesMs: [1], errorKinds: { '503 no_primary': 4 } });
    const out = resultsTable([a, b]);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^RUN\s+OP\s+CLIENTS\s+OPS\s+OPS\/S\s+P50 MS\s+P99 MS\s+MAX MS\s+ERRORS$/);
    expect(lines[1]).toMatch(/^1x3\s+write\s+64\s+3\s+3\.0\s+1\.00\s+2\.00\s+2\.00\s+0$/);
    expect(lines[2]).toMatch(/^3x3\s+write\s+64\s+1\s+1\.0\s+1\.00\s+1\.00\s+1\.00\s+4$/);
    expect(out).toContain('3x3: 4 × 503 no_primary');
  });
});

describe('runBench against a fake router', () => {
  let server: Server;
  let url: string;
  const counts = { dbPut: 0, docPut: 0, seedPut: 0, docGet: 0, bodies: [] as number[] };
  let inFlight = 0;
  let maxInFlight = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const done = (status: number, payload: unknown) => {
          inFlight--;
          res.statusCode = status;
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(payload));
        };
        if (req.method === 'PUT' && req.url === '/v1/db/bench') {
          counts.dbPut++;
          return done(201, { ok: true, db: 'bench' });
        }
        if (req.method === 'PUT' && req.url!.startsWith('/v1/db/bench/docs/')) {
          counts.docPut++;
          if (req.url!.includes('/seed-')) counts.seedPut++;
          counts.bodies.push(Buffer.byteLength(body));
          // Every 10th write fails like a quorum timeout would.
          if (counts.docPut % 10 === 0) return done(503, { ok: false, error: 'quorum_not_met', message: 'x' });
          return setImmediate(() => done(201, { id: 'x', rev: '1-a' }));
        }
        if (req.method === 'GET' && req.url!.startsWith('/v1/db/bench/docs/seed-')) {
          counts.docGet++;
          return done(200, { id: 'x' });
        }
        done(404, { ok: false, error: 'not_found', message: req.url });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('write: stops at maxOps, counts every answer as an op or an error, ~200-byte bodies', async () => {
    counts.docPut = 0;
    counts.bodies = [];
    maxInFlight = 0;
    const r = await runBench({ routerUrl: url, clients: 8, durationMs: 20_000, op: 'write', maxOps: 500 });
    expect(r.ops + r.errors).toBe(500);
    expect(counts.docPut).toBe(500);
    expect(r.errorKinds).toEqual({ '503 quorum_not_met': 50 });
    expect(r.elapsedMs).toBeLessThan(20_000);
    expect(maxInFlight).toBeLessThanOrEqual(8);
    for (const b of counts.bodies) expect(b).toBeGreaterThan(150), expect(b).toBeLessThan(300);
  });

  it('mixed: seeds docs first, then alternates writes and reads of seeded ids, bounded by duration', async () => {
    counts.docPut = 0;
    counts.docGet = 0;
    const progress: string[] = [];
    const r = await runBench({ routerUrl: url, clients: 4, durationMs: 1200, op: 'mixed', seedDocs: 20, onProgress: (l) => progress.push(l) });
    expect(r.errorKinds['404 not_found']).toBeUndefined();
    expect(counts.docGet).toBeGreaterThan(0);
    expect(counts.seedPut).toBeGreaterThanOrEqual(20);
    expect(r.ops + r.errors).toBe(counts.docGet + counts.docPut - counts.seedPut);
    expect(r.elapsedMs).toBeGreaterThanOrEqual(1200);
    expect(r.elapsedMs).toBeLessThan(5000);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]).toMatch(/^\[\s+1s\] mixed/);
  });

  it('fails fast when the db cannot be created', async () => {
    await expect(runBench({ routerUrl: url, clients: 1, durationMs: 1000, op: 'write', db: 'other' })).rejects.toThrow(/cannot create db other: 404 not_found/);
  });
});
