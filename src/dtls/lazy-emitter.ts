/**
 * The event surface of a DTLS session without an EventEmitter per session (see README.md,
 * "Memory of an idle session").
 */
import { EventEmitter } from 'node:events';

/** A listener of a session event (`(data: Uint8Array) => void` for 'data', and so on). */
export type Listener = (...args: never[]) => unknown;
type EmitterListener = (...args: unknown[]) => void;

/**
 * Sessions carry no EventEmitter of their own: one is made on the first listener, so the
 * thousands of sessions nobody listens to (the server's transport uses hooks) stay small.
 * The methods below are the EventEmitter subset callers use; listeners are called with the
 * event's arguments (not with the session as `this`).
 */
export abstract class LazyEmitter {
  private emitter: EventEmitter | undefined = undefined;

  private get events(): EventEmitter {
    this.emitter ??= new EventEmitter();
    return this.emitter;
  }

  on(event: string | symbol, listener: Listener): this {
    this.events.on(event, listener as EmitterListener);
    return this;
  }

  addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  prependListener(event: string | symbol, listener: Listener): this {
    this.events.prependListener(event, listener as EmitterListener);
    return this;
  }

  once(event: string | symbol, listener: Listener): this {
    this.events.once(event, listener as EmitterListener);
    return this;
  }

  prependOnceListener(event: string | symbol, listener: Listener): this {
    this.events.prependOnceListener(event, listener as EmitterListener);
    return this;
  }

  off(event: string | symbol, listener: Listener): this {
    this.emitter?.off(event, listener as EmitterListener);
    return this;
  }

  removeListener(event: string | symbol, listener: Listener): this {
    return this.off(event, listener);
  }

  removeAllListeners(event?: string | symbol): this {
    if (event === undefined) this.emitter = undefined;
    else this.emitter?.removeAllListeners(event);
    return this;
  }

  setMaxListeners(n: number): this {
    this.events.setMaxListeners(n);
    return this;
  }

  getMaxListeners(): number {
    return this.emitter?.getMaxListeners() ?? EventEmitter.defaultMaxListeners;
  }

  listenerCount(event: string | symbol): number {
    return this.emitter?.listenerCount(event) ?? 0;
  }

  listeners(event: string | symbol): Listener[] {
    return (this.emitter?.listeners(event) ?? []) as Listener[];
  }

  rawListeners(event: string | symbol): Listener[] {
    return (this.emitter?.rawListeners(event) ?? []) as Listener[];
  }

  eventNames(): Array<string | symbol> {
    return this.emitter?.eventNames() ?? [];
  }

  emit(event: string | symbol, ...args: unknown[]): boolean {
    return this.emitter?.emit(event, ...args) ?? false;
  }
}
