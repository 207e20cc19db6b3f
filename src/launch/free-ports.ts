import { createServer, type Server } from 'node:net';

/**
 * `n` distinct free TCP ports on `host`, found by binding port 0. All sockets
 * stay open until every port is collected (so the OS cannot hand out the same
 * one twice), then close. Another process could still take a port before the
 * caller binds it; on loopback in a test run that race is rare enough.
 */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  const ports: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
      });
      const addr = server.address();
      if (addr === null || typeof addr === 'string') throw new Error('unexpected server address');
      ports.push(addr.port);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
  return ports;
}
