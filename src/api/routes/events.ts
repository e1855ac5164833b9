// GET /events: Server-Sent Events of scan progress, jobs and library updates, each with an id and
// the scan id when there is one. A client reconnecting with Last-Event-ID (header, or ?lastEventId)
// first gets what it missed, or a `resync` event when that is no longer kept. ?scanId=… keeps only
// one scan's events.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { HubEvent } from '../events_hub.js';
import type { ApiContext } from '../server.js';
import { errorResponses, nonJson } from './schemas.js';

const HEARTBEAT_MS = 15_000;

export function eventRoutes(app: FastifyInstance, { events }: ApiContext): void {
  const open = new Map<ServerResponse, () => void>();
  // before the server stops listening: it waits for open connections, and a live stream never ends by itself
  app.addHook('preClose', async () => {
    for (const [res, close] of open) {
      close();
      res.end();
    }
  });

  app.get<{ Querystring: { scanId?: string; lastEventId?: number } }>(
    '/events',
    {
      schema: {
        tags: ['events'],
        summary: 'live progress and library updates (text/event-stream)',
        querystring: { type: 'object', additionalProperties: false, properties: { scanId: { type: 'string', maxLength: 100 }, lastEventId: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } } },
        response: { 200: nonJson('a stream of events `scan`, `job`, `library` (and `resync`), each with an `id:` and JSON `data:`', ['text/event-stream']), ...errorResponses },
      },
    },
    (request, reply) => {
      const header = request.headers['last-event-id'];
      const lastId = Number(typeof header === 'string' && /^\d+$/.test(header) ? header : (request.query.lastEventId ?? 0));
      const only = request.query.scanId;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      const send = (event: HubEvent) => {
        if (only && event.scanId !== only) return;
        if (res.writableEnded || res.destroyed) return;
        res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify({ ...event.data, ...(event.scanId ? { scanId: event.scanId } : {}) })}\n\n`);
      };
      res.write(`retry: 2000\n: connected\n\n`);
      if (lastId > 0) {
        const missed = events.since(lastId);
        if (missed === null) res.write(`event: resync\ndata: {"reason":"events after ${lastId} are no longer kept"}\n\n`);
        else missed.forEach(send);
      }
      const stop = events.listen(send);
      const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      const close = () => {
        stop();
        clearInterval(heartbeat);
        open.delete(res);
      };
      open.set(res, close);
      res.on('error', close);
      request.raw.once('close', close);
      res.once('close', close);
    },
  );
}
