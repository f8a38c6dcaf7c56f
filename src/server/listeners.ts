/**
 * The listener registry: every network listener the server runs (HTTP API today; CoAP, CoAPs and
 * EST when their rooms land) registers here. The registry starts them in order, stops them in
 * reverse order, and answers "is everything up?" for GET /api/v1/health, so a new protocol only
 * has to implement Listener and be registered in server.ts.
 */
import { channel } from 'node:diagnostics_channel';
import { DuplicateListenerError, ListenError } from './errors.js';

export interface ListenerAddress {
  host: string;
  /** The bound port: the real one when 0 was asked for. */
  port: number;
  /** How a client reaches it, e.g. http://127.0.0.1:43121 or coaps://0.0.0.0:5684. */
  url: string;
}

export interface Listener {
  /** Stable name used in health output and logs: 'http', 'coap', 'coaps', 'est'. */
  readonly name: string;
  /** Binds and starts serving; resolves with the bound address. */
  start(): Promise<ListenerAddress>;
  /** Stops accepting and closes open connections. Must be safe to call once after start(). */
  stop(): Promise<void>;
}

export type ListenerState = 'pending' | 'up' | 'stopping' | 'stopped' | 'failed';

export interface ListenerStatus {
  state: ListenerState;
  address?: ListenerAddress;
}

const listenerEvents = channel('rootline:server:listener');

export class ListenerRegistry {
  readonly #listeners: Listener[] = [];
  readonly #status = new Map<string, ListenerStatus>();

  register(listener: Listener): void {
    if (this.#status.has(listener.name)) throw new DuplicateListenerError(listener.name);
    this.#listeners.push(listener);
    this.#status.set(listener.name, { state: 'pending' });
  }

  /**
   * Starts every listener in registration order. If one fails, the ones already up are stopped
   * again, so a failed start never leaves half a server holding ports.
   */
  async startAll(): Promise<Record<string, ListenerAddress>> {
    const started: Listener[] = [];
    const addresses: Record<string, ListenerAddress> = {};
    for (const l of this.#listeners) {
      try {
        const address = await l.start();
        this.#status.set(l.name, { state: 'up', address });
        addresses[l.name] = address;
        started.push(l);
        if (listenerEvents.hasSubscribers) listenerEvents.publish({ event: 'up', listener: l.name, url: address.url });
      } catch (err) {
        this.#status.set(l.name, { state: 'failed' });
        for (const s of started.reverse()) await this.#stopOne(s);
        if (err instanceof ListenError) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        throw new ListenError(l.name, `${l.name} listener failed to start${code ? ` (${code})` : ''}: ${(err as Error).message}`, { cause: err });
      }
    }
    return addresses;
  }

  /** Stops every started listener, newest first; errors are collected, never half-stop. */
  async stopAll(): Promise<void> {
    const errors: unknown[] = [];
    for (const l of [...this.#listeners].reverse()) {
      if (this.#status.get(l.name)?.state !== 'up') continue;
      try {
        await this.#stopOne(l);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'some listeners failed to stop');
  }

  async #stopOne(l: Listener): Promise<void> {
    // Marked first, so health turns 503 while the listener drains its in-flight requests.
    this.#status.set(l.name, { ...this.#status.get(l.name), state: 'stopping' });
    await l.stop();
    this.#status.set(l.name, { state: 'stopped' });
    if (listenerEvents.hasSubscribers) listenerEvents.publish({ event: 'stopped', listener: l.name });
  }

  /** True when at least one listener is registered and every one of them is up. */
  allUp(): boolean {
    return this.#status.size > 0 && [...this.#status.values()].every((s) => s.state === 'up');
  }

  status(): Record<string, ListenerStatus> {
    return Object.fromEntries([...this.#status].map(([name, s]) => [name, { ...s }]));
  }
}
