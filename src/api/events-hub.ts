/**
 * The in-memory hub behind GET /api/v1/events: every event gets the next id and goes into a
 * bounded ring (so a client that reconnects with Last-Event-ID gets what it missed) and out to
 * the open streams. Other rooms publish through `publish()` — the campaign engine (via server/),
 * the device routes, and the LwM2M server (registrations, updates, de-registrations,
 * notifications) — without knowing anything about HTTP.
 *
 * Deliberately in memory: events are a live feed, not a record. What must survive a restart is
 * in the store (campaign timelines, the audit log); the ring only bridges reconnects.
 */
import { InvalidArgumentError } from '../errors.js';

/** Topics the feed carries; an SSE client can listen per topic (`addEventListener('campaign')`). */
export const EVENT_TOPICS = ['campaign', 'device', 'lwm2m'] as const;
export type EventTopic = (typeof EVENT_TOPICS)[number];

export interface HubEvent {
  /** Increasing within this server process; the SSE `id:` line. */
  id: number;
  topic: EventTopic;
  /** Dotted kind, e.g. 'campaign.state', 'device.created', 'lwm2m.registration'. */
  type: string;
  at: string;
  data: Record<string, unknown>;
}

export interface EventPublisher {
  publish(topic: EventTopic, type: string, data: Record<string, unknown>): HubEvent;
}

export interface EventHubOptions {
  /** Events kept for Last-Event-ID resume. Default 1000. */
  capacity?: number;
  /** Concurrent SSE streams; more are refused with 503. Default 100. */
  maxStreams?: number;
  /** Milliseconds between heartbeat comments on an idle-looking stream. Default 15 000. */
  heartbeatMs?: number;
}

/** What `replaySince` found: the events after the id, and whether some were already evicted. */
export interface Replay {
  events: HubEvent[];
  /** True when events after `lastId` were dropped from the ring (or the id is from another run). */
  gap: boolean;
}

type Listener = (event: HubEvent) => void;

export class EventHub implements EventPublisher {
  readonly capacity: number;
  readonly maxStreams: number;
  readonly heartbeatMs: number;
  readonly #ring: HubEvent[] = [];
  readonly #listeners = new Set<Listener>();
  #nextId = 1;
  #streams = 0;

  constructor(options: EventHubOptions = {}) {
    this.capacity = positiveInt(options.capacity ?? 1000, 'capacity', 100_000);
    this.maxStreams = positiveInt(options.maxStreams ?? 100, 'maxStreams', 10_000);
    this.heartbeatMs = positiveInt(options.heartbeatMs ?? 15_000, 'heartbeatMs', 3_600_000);
  }

  publish(topic: EventTopic, type: string, data: Record<string, unknown>): HubEvent {
    if (!(EVENT_TOPICS as readonly string[]).includes(topic)) throw new InvalidArgumentError('topic', `expected one of ${EVENT_TOPICS.join(', ')}`);
    if (typeof type !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(type)) throw new InvalidArgumentError('type', 'expected a dotted lower-case event type');
    if (typeof data !== 'object' || data === null) throw new InvalidArgumentError('data', 'expected an object');
    const event: HubEvent = { id: this.#nextId++, topic, type, at: new Date().toISOString(), data };
    this.#ring.push(event);
    if (this.#ring.length > this.capacity) this.#ring.shift();
    for (const l of this.#listeners) {
      // One broken stream must not keep the event from the others, nor fail the publisher.
      try {
        l(event);
      } catch {
        /* the stream's own error handling closes it */
      }
    }
    return event;
  }

  /** The newest id handed out (0 before the first event). */
  get lastId(): number {
    return this.#nextId - 1;
  }

  replaySince(lastId: number): Replay {
    // An id above what this process handed out comes from an earlier server run: ids restart.
    if (lastId > this.lastId) return { events: [...this.#ring], gap: true };
    const events = this.#ring.filter((e) => e.id > lastId);
    const oldest = this.#ring[0]?.id ?? this.#nextId;
    return { events, gap: oldest > lastId + 1 };
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reserves a stream slot; false when the cap is reached. Pair with releaseStream(). */
  tryOpenStream(): boolean {
    if (this.#streams >= this.maxStreams) return false;
    this.#streams++;
    return true;
  }

  releaseStream(): void {
    this.#streams = Math.max(0, this.#streams - 1);
  }

  get openStreams(): number {
    return this.#streams;
  }
}

function positiveInt(value: number, name: string, max: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new InvalidArgumentError(name, `expected an integer 1..${max}`);
  return value;
}
