import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.ts';
import { TesseraError } from '../../src/core/errors.ts';
import { NodeClient, UnreachableError, type RequestOptions } from '../../src/core/http/client.ts';
import { writeToShard } from '../../router/api/writer.ts';
import type { ShardRuntime } from '../../router/replication/shard-runtime.ts';

// The outcome a failed write reports (DESIGN §4): `no_primary` promises
// `not_applied`, so it may only be said when no attempt can have reached a
// primary; a connection that broke after the request went out, or a request
// cut short because the view moved on, is `quorum_not_met` / indeterminate.

const servers: net.Server[] = [];
const clients: NodeClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A TCP server whose connections do `onData` with the first bytes of a request. */
async function server(onData: (socket: net.Socket) => void): Promise<string> {
  const s = net.createServer((socket) => socket.once('data', () => onData(socket)));
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as net.AddressInfo).port}`;
}

async function closedPortUrl(): Promise<string> {
  const url = await server(() => {});
  await new Promise((r) => servers.pop()!.close(r));
  return url;
}

function client(url: string): NodeClient {
  const c = new NodeClient(url, 'secret');
  clients.push(c);
  return c;
}

/** The slice of ShardRuntime the writer uses, over a scripted primary. */
function runtime(raw: (opts: RequestOptions) => Promise<never>, view = new AbortController()) {
  const rt = {
    shardId: 0, writeQuorum: 2, commitSeq: 0,
    sendWrite: <T>(send: () => Promise<T>) => send(),
    view: { term: 1 },
    get viewSignal() { return view.signal; },
    writable: async () => true,
    primary: () => ({ id: 'p', url: 'x', client: { raw } }),
    refresh: async () => {},
    keepSeq: () => 0,
    hint: () => {},
  };
  return rt as unknown as ShardRuntime;
}

async function failure(p: Promise<unknown>): Promise<TesseraError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(TesseraError);
  return err as TesseraError;
}

const deps = { clock: systemClock, writeTimeoutMs: 5000 };
const put = { method: 'PUT' as const, path: '/v1/db/d/docs/x', body: { data: {} } };

describe('NodeClient: whether a failed request can have reached the peer', () => {
  it('refused: not delivered; reset or closed once connected: maybe delivered (DESIGN §4: not_applied only when the request provably never reached the node)', async () => {
    const refused = await client(await closedPortUrl()).raw({ method: 'PUT', path: '/', body: {}, timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnreachableError);
    expect((refused as UnreachableError).notDelivered).toBe(true);
    // A peer that read the request and died sends a reset too when more bytes arrive: a reset proves nothing.
    const reset = await client(await server((s) => s.resetAndDestroy())).raw({ method: 'PUT', path: '/', body: {}, timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(reset).toBeInstanceOf(UnreachableError);
    expect((reset as UnreachableError).notDelivered).toBe(false);
    // What a node killed between its commit and its answer looks like: it read everything, then the socket closed.
    const closed = await client(await server((s) => s.destroy())).raw({ method: 'PUT', path: '/', body: {}, timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(closed).toBeInstanceOf(UnreachableError);
    expect((closed as UnreachableError).notDelivered).toBe(false);
    expect((closed as UnreachableError).timedOut).toBe(false);
  });

  it('ends a request when the caller aborts, long before its deadline', async () => {
    const c = client(await server(() => {})); // reads the request, never answers
    const ctrl = new AbortController();
    const started = Date.now();
    const pending = c.raw({ method: 'PUT', path: '/', body: {}, timeoutMs: 30_000, signal: ctrl.signal }).catch((e: unknown) => e);
    setTimeout(() => ctrl.abort(), 50);
    const err = await pending;
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as UnreachableError).timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('writeToShard: the outcome of a write whose primary is lost', () => {
  it('a connection broken after sending, then a refused retry: 503 quorum_not_met, indeterminate', async () => {
    const errors = [new UnreachableError('p', new Error('other side closed'), false, false), new UnreachableError('p', new Error('ECONNREFUSED'), false, true)];
    let calls = 0;
    const err = await failure(writeToShard(deps, runtime(async () => { throw errors[calls++]!; }), put, Date.now() + 5000));
    expect(calls).toBe(2);
    expect(err.code).toBe('quorum_not_met');
    expect(err.details).toMatchObject({ outcome: 'indeterminate', acks: 0 });
  });

  it('refused twice: 503 no_primary, not_applied', async () => {
    let calls = 0;
    const err = await failure(writeToShard(deps, runtime(async () => { calls++; throw new UnreachableError('p', new Error('ECONNREFUSED'), false, true); }), put, Date.now() + 5000));
    expect(calls).toBe(2);
    expect(err.code).toBe('no_primary');
    expect(err.details).toMatchObject({ outcome: 'not_applied' });
  });

  it('a view change ends a write in flight to a silent primary at once: indeterminate', async () => {
    const c = client(await server(() => {}));
    const view = new AbortController();
    const rt = runtime(((opts: RequestOptions) => c.raw(opts)) as (opts: RequestOptions) => Promise<never>, view);
    const started = Date.now();
    const pending = failure(writeToShard(deps, rt, put, Date.now() + 30_000));
    setTimeout(() => view.abort(), 50);
    const err = await pending;
    expect(err.code).toBe('quorum_not_met');
    expect(err.details).toMatchObject({ outcome: 'indeterminate' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
