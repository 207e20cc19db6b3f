import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { ReplicationConfig } from '../../src/core/config/index.ts';
import { TesseraError } from '../../src/core/errors.ts';
import type { RouterContext } from '../api/scatter.ts';
import { noQuery } from '../api/schemas.ts';
import { describeShard } from '../failover/cluster-status.ts';
import { UI_PAGE } from './page.ts';
import { Traffic, trafficKind } from './traffic.ts';

// The live topology page (README "Live topology page"): GET /ui is one HTML
// file with its script inline (no build step), GET /ui/events a server-sent
// event stream of the same facts as GET /v1/_cluster plus the election
// timeline and the client rates, one snapshot a second. Open like
// /v1/_cluster: it shows the cluster's shape and health, never a document,
// a database name or the secret, and changes nothing. Streams are capped, so
// an open endpoint cannot pin the router's memory.

const INTERVAL_MS = 1000;
const MAX_STREAMS = 32;

export function uiSnapshot(ctx: RouterContext, replication: Readonly<ReplicationConfig>, traffic: Traffic) {
  const now = ctx.clock.now();
  return {
    at: new Date(now).toISOString(),
    shards: ctx.shards.list.map((rt) => ({
      ...describeShard(rt.facts(), now, replication),
      writesPaused: rt.writesPaused,
      lastElection: ctx.failover?.lastElection(rt.shardId) ?? null,
    })),
    elections: [...(ctx.failover?.recentElections() ?? [])].reverse().slice(0, 20),
    rates: traffic.rates(),
  };
}

/** Installs the request counter at the root (so it sees the document routes), then returns the plugin. */
export function uiRoutes(app: FastifyInstance, ctx: RouterContext, replication: Readonly<ReplicationConfig>): FastifyPluginAsync {
  const traffic = new Traffic(ctx.clock);
  app.addHook('onResponse', async (req) => {
    const kind = trafficKind(req.method, req.url);
    if (kind) traffic.note(kind);
  });
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const s of streams) s.end();
  });
  return async (scope) => {
    scope.get('/ui', { schema: { hide: true, querystring: noQuery } }, async (_req, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(UI_PAGE));

    scope.get('/ui/events', { schema: { hide: true, querystring: noQuery } }, async (req, reply) => {
      if (streams.size >= MAX_STREAMS) throw new TesseraError('unavailable', `At most ${MAX_STREAMS} /ui streams at once`);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
      streams.add(res);
      const send = () => res.write(`data: ${JSON.stringify(uiSnapshot(ctx, replication, traffic))}\n\n`);
      send();
      const timer = setInterval(send, INTERVAL_MS);
      const done = () => {
        clearInterval(timer);
        streams.delete(res);
      };
      req.raw.on('close', done);
      res.on('close', done);
    });

    scope.get('/ui/snapshot', { schema: { hide: true, querystring: noQuery } }, async () => uiSnapshot(ctx, replication, traffic));
  };
}
