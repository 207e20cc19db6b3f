import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP forwarder on 127.0.0.1 used to cut the link between the router and
 * one node without touching either process.
 *  - cut('reset'): destroys open connections and resets new ones at once
 *    (the peer sees ECONNRESET: a crashed host or a closed port).
 *  - cut('blackhole'): open connections and new ones stay up but no byte is
 *    forwarded either way (the peer sees timeouts: a partition).
 *  - heal(): new connections are forwarded again (cut connections stay dead,
 *    as after a real partition).
 */
export class TcpProxy {
  readonly targetPort: number;
  readonly targetHost: string;
  #listenPort: number;
  #server: Server | null = null;
  #mode: 'open' | 'reset' | 'blackhole' = 'open';
  #pairs = new Set<[Socket, Socket | null]>();
  #connections = 0;

  constructor(opts: { targetPort: number; listenPort?: number; targetHost?: string }) {
    this.targetPort = opts.targetPort;
    this.targetHost = opts.targetHost ?? '127.0.0.1';
    this.#listenPort = opts.listenPort ?? 0;
  }

  /** The port the proxy listens on (known after start()). */
  get port(): number {
    return this.#listenPort;
  }

  get mode(): 'open' | 'reset' | 'blackhole' {
    return this.#mode;
  }

  /** Connections accepted so far (forwarded or not). */
  get connections(): number {
    return this.#connections;
  }

  async start(): Promise<this> {
    const server = createServer((client) => this.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#listenPort, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('unexpected proxy address');
    this.#listenPort = addr.port;
    this.#server = server;
    return this;
  }

  #accept(client: Socket): void {
    this.#connections++;
    client.on('error', () => {});
    if (this.#mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const pair: [Socket, Socket | null] = [client, null];
    this.#pairs.add(pair);
    const drop = () => {
      this.#pairs.delete(pair);
      client.destroy();
      pair[1]?.destroy();
    };
    client.on('close', drop);
    if (this.#mode === 'blackhole') {
      // Read and discard, so the peer's writes succeed and it waits for an answer.
      client.on('data', () => {});
      return;
    }
    const upstream = createConnection({ port: this.targetPort, host: this.targetHost });
    pair[1] = upstream;
    upstream.on('error', () => {});
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  cut(mode: 'reset' | 'blackhole' = 'reset'): void {
    this.#mode = mode;
    for (const pair of [...this.#pairs]) {
      const [client, upstream] = pair;
      if (mode === 'reset') {
        this.#pairs.delete(pair);
        upstream?.destroy();
        if (!client.destroyed) client.resetAndDestroy();
      } else {
        // Stop forwarding without closing: bytes in either direction are dropped.
        client.unpipe();
        upstream?.unpipe();
        client.removeAllListeners('data');
        upstream?.removeAllListeners('data');
        client.on('data', () => {});
        upstream?.on('data', () => {});
      }
    }
  }

  heal(): void {
    this.#mode = 'open';
  }

  async close(): Promise<void> {
    for (const [client, upstream] of this.#pairs) {
      client.destroy();
      upstream?.destroy();
    }
    this.#pairs.clear();
    const server = this.#server;
    this.#server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
