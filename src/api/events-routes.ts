/**
 * GET /api/v1/events: server-sent events (text/event-stream) from the EventHub. Each event has an
 * `id:` line, so a client (EventSource reconnects by itself) sends `Last-Event-ID` and gets what
 * it missed from the hub's ring; a `gap` event says when some had already been evicted. Comment
 * lines keep proxies and clients from timing an idle stream out. Streams are capped (503 beyond)
 * and a client too slow to keep up is disconnected rather than buffered without bound: it
 * reconnects with Last-Event-ID and loses nothing the ring still holds.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';
import { EVENT_TOPICS, type EventHub, type HubEvent } from './events-hub.js';

export const eventsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    topics: {
      type: 'string',
      pattern: `^(${EVENT_TOPICS.join('|')})(,(${EVENT_TOPICS.join('|')}))*$`,
      description: `Comma-separated topics to receive (${EVENT_TOPICS.join(', ')}); default all.`,
    },
    lastEventId: {
      type: 'integer',
      minimum: 0,
      maximum: 9007199254740991,
      description: 'Resume after this event id, for clients that cannot send the Last-Event-ID header (which wins when both are given).',
    },
  },
} as const;

/** Bytes queued for one slow client before it is cut off. */
const MAX_BUFFERED = 1024 * 1024;

function frame(e: HubEvent): string {
  // JSON.stringify never emits a raw newline, so one data: line always carries the whole event.
  return `id: ${e.id}\nevent: ${e.topic}\ndata: ${JSON.stringify(e)}\n\n`;
}

export interface EventStreams {
  handle(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** Ends every open stream (server shutdown), so closing the HTTP server does not wait on them. */
  closeAll(): void;
}

export function createEventStreams(hub: EventHub): EventStreams {
  const open = new Set<() => void>();

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const q = request.query as { topics?: string; lastEventId?: number };
    const header = request.headers['last-event-id'];
    let lastId = q.lastEventId;
    if (typeof header === 'string' && header !== '') {
      if (!/^[0-9]{1,15}$/.test(header)) throw new ApiError('ERR_API_VALIDATION', `headers.last-event-id: expected an event id, got ${JSON.stringify(header.slice(0, 32))}`);
      lastId = Number(header);
    }
    const topics = q.topics === undefined ? undefined : new Set(q.topics.split(','));
    if (!hub.tryOpenStream()) throw new ApiError('ERR_API_TOO_MANY_STREAMS', `the server already serves ${hub.maxStreams} event streams`);

    reply.hijack();
    const res = reply.raw;
    let ended = false;
    let unsubscribe = (): void => undefined;
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), hub.heartbeatMs);
    const end = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(end);
      hub.releaseStream();
      if (!res.writableEnded) res.end();
    };
    open.add(end);
    res.on('close', end);
    res.on('error', end);
    const write = (text: string): void => {
      if (ended) return;
      res.write(text);
      if (res.writableLength > MAX_BUFFERED) {
        request.log.warn({ buffered: res.writableLength }, 'event stream client too slow; disconnecting it');
        end();
      }
    };
    const send = (e: HubEvent): void => {
      if (topics === undefined || topics.has(e.topic)) write(frame(e));
    };

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Tells nginx-style proxies not to buffer the stream.
      'x-accel-buffering': 'no',
    });
    write(`retry: 3000\n: rootline events; newest id ${hub.lastId}\n\n`);
    // Replay and subscription happen in one synchronous step, so no event falls between them.
    let sentUpTo = hub.lastId;
    if (lastId !== undefined) {
      const replay = hub.replaySince(lastId);
      // No id line: a gap notice must not move the client's Last-Event-ID.
      if (replay.gap) write(`event: gap\ndata: ${JSON.stringify({ lastEventId: lastId, oldestAvailable: replay.events[0]?.id ?? hub.lastId + 1 })}\n\n`);
      for (const e of replay.events) send(e);
    }
    unsubscribe = hub.subscribe((e) => {
      if (e.id <= sentUpTo) return;
      sentUpTo = e.id;
      send(e);
    });
  }

  return {
    handle,
    closeAll() {
      for (const end of [...open]) end();
    },
  };
}
