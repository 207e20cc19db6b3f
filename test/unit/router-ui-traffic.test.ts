import { describe, expect, it } from 'vitest';
import { Traffic, trafficKind } from '../../router/ui/traffic.ts';
import { ManualClock } from '../harness/manual-clock.ts';

describe('/ui traffic rates', () => {
  it.each([
    ['GET', '/v1/db/a/docs/x', 'read'],
    ['POST', '/v1/db/a/_find/tags', 'read'],
    ['PUT', '/v1/db/a/docs/x', 'write'],
    ['POST', '/v1/db/a/_bulk_docs', 'write'],
    ['DELETE', '/v1/db/a/docs/x?rev=1', 'write'],
    ['GET', '/v1/_cluster', null],
    ['GET', '/ui/events', null],
  ])('%s %s is %s', (method, url, kind) => {
    expect(trafficKind(method, url)).toBe(kind);
  });

  it('rates are per second over the last five complete seconds, and old seconds fall out', async () => {
    const clock = new ManualClock(10_000);
    const t = new Traffic(clock);
    for (let s = 0; s < 5; s++) {
      for (let i = 0; i < 10; i++) t.note('write');
      t.note('read');
      await clock.advance(1000);
    }
    expect(t.rates()).toEqual({ writesPerSec: 10, readsPerSec: 1 });
    await clock.advance(3000);
    expect(t.rates()).toEqual({ writesPerSec: 4, readsPerSec: 0.4 });
    await clock.advance(10_000);
    expect(t.rates()).toEqual({ writesPerSec: 0, readsPerSec: 0 });
  });
});
